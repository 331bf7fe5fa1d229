# shellcheck shell=bash
# Helpers for every bench script that sourcing leaves no trace of (no cd, no checks), so the
# scripts that read report directories named relative to the caller's directory (series.sh,
# costratio.sh, gap.sh) use them as well as common.sh, which sources this file.

# awk functions for the summaries, prepended to an awk program ("$bench_awk_lib"'...'):
# sortv(v, c) sorts v[1..c] numerically in place; med(v, c) sorts and returns the median.
bench_awk_lib='function sortv(v, c,   i, j, x) {
    for (i = 2; i <= c; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] + 0 > x + 0; j--) v[j + 1] = v[j]; v[j + 1] = x } }
function med(v, c) { sortv(v, c); return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
'

# Prints a script's leading comment block (its usage).
bench_usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"; }

# Builds TARGET... in BUILD (configuring a new tree as Release; an existing tree keeps its
# type, so a bench script never flips the tree scripts/main.sh made). Usage: bench_build ROOT BUILD TARGET...
bench_build() {
    local root=$1 build=$2
    shift 2
    [ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" --target "$@" -j"$(nproc)" >/dev/null
}
