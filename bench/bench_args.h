/* Strict command-line values for the benchmark programs. atoi and friends turned a typo into
 * 0 (or a value clamped later), so a run could measure something other than what was asked
 * and still look fine. Each parser here prints one line naming the program, the option and
 * what it got, and returns -1; the caller then prints its usage and exits 2.
 * Static inline in a header: each benchmark is one file with no library of its own, and
 * inline keeps -Wunused-function quiet for the parsers a program does not use. */
#ifndef LP_BENCH_ARGS_H
#define LP_BENCH_ARGS_H

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** A ceiling for counts that have no natural one: far above any run, yet low enough that a
 *  count times an element size cannot wrap size_t. */
#define BENCH_ARG_COUNT_MAX 1000000000LL

/** Prints "PROG: OPT needs WHAT, got 'V'" (no "got" when the value is missing); returns -1
 *  so that parsers can end with it. */
static inline int bench_arg_fail(const char *prog, const char *opt, const char *what,
                                 const char *v)
{
    if (v)
        fprintf(stderr, "%s: %s needs %s, got '%s'\n", prog, opt, what, v);
    else
        fprintf(stderr, "%s: %s needs %s\n", prog, opt, what);
    return -1;
}

/** strto* skip leading blanks and read "" as 0 without an error, so both are refused before
 *  converting: a value must be the number and nothing else. */
static inline int bench_arg_unusable(const char *v)
{
    return !v || !*v || isspace((unsigned char)*v);
}

/** An integer in [lo, hi] into *out; 0, or -1 after one line on stderr (*out untouched). */
static inline int bench_arg_long(const char *prog, const char *opt, const char *v, long long lo,
                                 long long hi, long long *out)
{
    char what[80], *end;
    snprintf(what, sizeof what, "an integer in [%lld, %lld]", lo, hi);
    if (bench_arg_unusable(v))
        return bench_arg_fail(prog, opt, what, v);
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || x < lo || x > hi)
        return bench_arg_fail(prog, opt, what, v);
    *out = x;
    return 0;
}

/** Any uint64_t (seeds use the whole range, which long long cannot hold). A '-' is refused
 *  here because strtoull would silently turn "-1" into 2^64 - 1. */
static inline int bench_arg_u64(const char *prog, const char *opt, const char *v, uint64_t *out)
{
    const char *what = "a non-negative integer below 2^64";
    char *end;
    if (bench_arg_unusable(v) || *v == '-')
        return bench_arg_fail(prog, opt, what, v);
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end)
        return bench_arg_fail(prog, opt, what, v);
    *out = x;
    return 0;
}

/** A number in [lo, hi]; written as !(in range) so that "nan", which strtod accepts, fails. */
static inline int bench_arg_double(const char *prog, const char *opt, const char *v, double lo,
                                   double hi, double *out)
{
    char what[80], *end;
    snprintf(what, sizeof what, "a number in [%g, %g]", lo, hi);
    if (bench_arg_unusable(v))
        return bench_arg_fail(prog, opt, what, v);
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || !(x >= lo && x <= hi))
        return bench_arg_fail(prog, opt, what, v);
    *out = x;
    return 0;
}

/** For getopt_long's ':' and '?' returns (optstring starting with ':', opterr = 0), which
 *  print nothing themselves, so the error names the option in this file's one-line format.
 *  glibc leaves optind past the offending word and optopt at 0 for an unknown long option,
 *  at the option's val for a known long one given "=value", at the letter for a short one. */
static inline void bench_arg_bad_option(const char *prog, int c, char **argv)
{
    const char *word = argv[optind - 1];
    if (c == ':')
        fprintf(stderr, "%s: %s needs a value\n", prog, word);
    else if (!optopt)
        fprintf(stderr, "%s: unknown option '%s'\n", prog, word);
    else if (!strncmp(word, "--", 2))
        fprintf(stderr, "%s: %.*s takes no value\n", prog, (int)strcspn(word, "="), word);
    else
        fprintf(stderr, "%s: unknown option '-%c'\n", prog, optopt);
}

#endif
