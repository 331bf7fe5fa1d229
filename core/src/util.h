/* Internal: small helpers shared by core files that have nothing else in common. */
#ifndef LP_UTIL_H
#define LP_UTIL_H

/** qsort comparator for doubles, ascending (NaN-free input: measured times, ratios). */
int lp_cmp_double(const void *a, const void *b);

#endif
