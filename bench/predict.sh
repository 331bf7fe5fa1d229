#!/usr/bin/env bash
# Prediction speed (issue 5): models predicted per second on one core and the peak memory of
# the predicting process. Each run is one `litepred predict --space S -n N` launch pinned to
# one core: it samples N models first, then times the prediction alone (the MLP batched per
# kernel type over every model's kernels, each distinct config predicted once); the median
# over the runs is reported.
#
# usage: bash bench/predict.sh [--runs R] [--pool DIR] [--platform P] [--space S] [-n N]
#                              [--cpu C] [--out DIR]
#   --runs R      launches (default 5)
#   --pool DIR    pool root (default configs/pool, the committed 16-layer MLP pool)
#   --platform P  the pool's platform (default xnnpack-fp32-1t)
#   --space S     space whose samples are predicted (default ofa-mbv3-w1.0)
#   -n N          models per launch (default 5000)
#   --cpu C       core to pin to (default 0)
#   --out DIR     results (default bench/results/predict): summary.md, runs.txt
set -euo pipefail
source "$(dirname "$0")/common.sh"
bench_name=predict
bench_cmdline=$(bench_cmdline_of "$0" "$@")
runs=5 pool=configs/pool platform=xnnpack-fp32-1t space=ofa-mbv3-w1.0 n=5000 cpu=0
out=bench/results/predict
while [ $# -gt 0 ]; do
    case $1 in
    -h|--help) bench_usage "$0"; exit 0 ;;
    --runs) runs=${2:-}; shift 2 || bench_die "--runs needs a number" ;;
    --pool) pool=${2:-}; shift 2 || bench_die "--pool needs a directory" ;;
    --platform) platform=${2:-}; shift 2 || bench_die "--platform needs a name" ;;
    --space) space=${2:-}; shift 2 || bench_die "--space needs a name" ;;
    -n) n=${2:-}; shift 2 || bench_die "-n needs a number" ;;
    --cpu) cpu=${2:-}; shift 2 || bench_die "--cpu needs a core number" ;;
    --out) out=${2:-}; shift 2 || bench_die "--out needs a directory" ;;
    *) bench_die "unknown argument '$1' (see --help)" ;;
    esac
done
for v in "$runs" "$n"; do
    case $v in ''|*[!0-9]*|0) bench_die "--runs and -n are positive integers, not '$v'" ;; esac
done
[ -d "$pool/$platform" ] || bench_die "no pool directory $pool/$platform"
bench_need_litepred
source bench/openblas.sh
mkdir -p "$out"
bench_mark_start
: >"$out/runs.txt"
for ((i = 1; i <= runs; i++)); do
    # stdout (one line per model) is not needed; the timing line goes to stderr
    taskset -c "$cpu" "$LITEPRED" predict --pool "$pool" --platform "$platform" \
        --space "$space" -n "$n" 2>>"$out/runs.txt" >/dev/null ||
        bench_die "litepred predict failed: $(tail -n 1 "$out/runs.txt")"
done
grep -q 'models/s' "$out/runs.txt" || bench_die "no timing line in $out/runs.txt"
bench_header "$out/summary.md" "Prediction speed: $n $space models from $pool/$platform, one core"
awk "$bench_awk_lib"'
/models\/s/ {
    c++
    s = $0; sub(/.*\(/, "", s); sub(/ models\/s.*/, "", s); rate[c] = s
    s = $0; sub(/.*predicted in /, "", s); sub(/ s .*/, "", s); pred[c] = s
    s = $0; sub(/.*sampled in /, "", s); sub(/ s;.*/, "", s); samp[c] = s
    s = $0; sub(/.*peak RSS /, "", s); sub(/ MiB.*/, "", s); rss[c] = s
}
END {
    printf "\n| runs | models/s (median) | min - max | predict (s) | sampling (s) | peak RSS (MiB) |\n"
    printf "|---:|---:|---|---:|---:|---:|\n"
    lo = rate[1]; hi = rate[1]
    for (i = 2; i <= c; i++) { if (rate[i] + 0 < lo + 0) lo = rate[i]; if (rate[i] + 0 > hi + 0) hi = rate[i] }
    printf "| %d | %.0f | %.0f - %.0f | %.4f | %.3f | %.1f |\n", c, med(rate, c), lo, hi, med(pred, c),
           med(samp, c), med(rss, c)
}' "$out/runs.txt" >>"$out/summary.md"
{ echo; echo "Per run (stderr of litepred predict):"; echo; sed 's/^/    /' "$out/runs.txt"; } >>"$out/summary.md"
cat "$out/summary.md"
