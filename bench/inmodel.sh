#!/usr/bin/env bash
# Why whole models are not the sum of their kernels: each step (graph node) of N models
# per space timed inside full runs of the model and alone in the same buffers after a
# flush of F MiB (the harness's flush_kib), by bench/inmodel_bench.c, on a native platform.
# A step alone after an F MiB flush is what a kernel measurement with flush_kib = F*1024
# sees; the same step in sequence is what the whole model sees.
#
# usage: bash bench/inmodel.sh [-n N] [--quick] [--seed S] [--spaces S1,S2,...] [--flush L]
#                              [--out DIR] [PLATFORM]
#   -n N        models per space (default 3; --quick: 1)
#   --flush L   comma-separated flush sizes in MiB (default 8,32,128,512)
#   --spaces    default ofa-mbv3-w1.0,ofa-proxyless,ofa-resnet,bignas,fbnetv3,autoformer-tiny
#   --out DIR   results directory (default bench/results/inmodel, or inmodel-quick)
#   PLATFORM    a native platform name or file (default native-fp32-1t; its cpu pinning is used)
# env: LITEPRED  the litepred binary (default build/bin/litepred); inmodel_bench is taken
#      from the same bin/ directory.
set -euo pipefail
bench_name=inmodel
bench_argv=("$@")
source "$(dirname "$0")/common.sh"
bench_cmdline=$(bench_cmdline_of "$0" "${bench_argv[@]}")

count=3 seed=1 out= flush=8,32,128,512
spaces=ofa-mbv3-w1.0,ofa-proxyless,ofa-resnet,bignas,fbnetv3,autoformer-tiny
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --flush) flush=${2:?--flush needs a list}; shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
bench_parse_run_args -n 1 "${args[@]+"${args[@]}"}"
case $flush in ''|*[!0-9,]*) bench_die "--flush needs comma-separated MiB counts" ;; esac
[ ${#platforms[@]} -le 1 ] || bench_die "one platform at a time"
platform=${platforms[0]:-native-fp32-1t}
if [ -z "$out" ]; then out=bench/results/inmodel; [ $quick = 0 ] || out+=-quick; fi
IFS=, read -r -a space_list <<<"$spaces"
IFS=, read -r -a flush_list <<<"$flush"
bin=$(dirname "$LITEPRED")/inmodel_bench
[ -x "$bin" ] || bench_die "no $bin (build the project: cmake --build build)"
case $platform in */*) [ -f "$platform" ] || bench_die "no platform file $platform" ;; *) bench_check_platforms "$platform" ;; esac

source "$bench_root/bench/openblas.sh"

bench_begin_run "$out"
models=$out/raw/models.csv steps=$out/raw/steps.csv
for s in "${space_list[@]}"; do
    bench_note "$platform: $s: $count models, flush ${flush} MiB"
    "$bin" --platform "$platform" --space "$s" -n "$count" --seed "$seed" --flush "$flush" \
        --steps "$work/steps-$s.csv" >"$work/models-$s.csv"
done
# One header, then every space's rows.
for kind in models steps; do
    first=$(ls "$work"/$kind-*.csv | head -1)
    { head -1 "$first"; for f in "$work"/$kind-*.csv; do tail -n +2 "$f"; done; } >"$out/raw/$kind.csv"
done

nf=${#flush_list[@]}
summary=$out/summary.md
bench_header "$summary" "In-model benchmark: each step of a whole model in sequence and alone"
{
    echo "- platform: $platform; models: $count per space (seed $seed); flush sizes (MiB): $flush"
    echo "- whole: median full-run time; in sequence: sum of each step's median inside full runs;"
    echo "  alone F: sum of each step's median when re-run by itself after writing F MiB (same buffers)"
    echo
    echo "Whole model / sum of its steps alone, median over the space's models (1.00: additive):"
    echo
    printf '| space | models | whole (ms) |'; printf ' alone %s MiB |' "${flush_list[@]}"; echo
    printf '|---|---:|---:|'; printf -- '---:|%.0s' "${flush_list[@]}"; echo
    for s in "${space_list[@]}"; do
        awk -F, -v s="$s" -v nf="$nf" "$bench_awk_lib"'
            NR > 1 && $1 == s { c++; w[c] = $4; for (f = 1; f <= nf; f++) r[f, c] = $4 / $(5 + f) }
            END { printf "| %s | %d | %.2f |", s, c, c ? med(w, c) : 0
                  for (f = 1; f <= nf; f++) { delete v; for (i = 1; i <= c; i++) v[i] = r[f, i]; printf " %.3f |", c ? med(v, c) : 0 }
                  print "" }' "$models"
    done
    echo
    echo "Per primitive over all models: time in sequence / time alone (sums over the steps):"
    echo
    printf '| primitive | steps | in sequence (ms) |'; printf ' / alone %s MiB |' "${flush_list[@]}"; echo
    printf '|---|---:|---:|'; printf -- '---:|%.0s' "${flush_list[@]}"; echo
    awk -F, -v nf="$nf" 'NR > 1 { n[$4]++; q[$4] += $5; for (f = 1; f <= nf; f++) a[$4, f] += $(5 + f) }
        END { for (p in n) { printf "| %s | %d | %.2f |", p, n[p], q[p] / 1e3
                             for (f = 1; f <= nf; f++) printf " %.3f |", (a[p, f] > 0 ? q[p] / a[p, f] : 0)
                             print "" } }' "$steps" | sort
    echo
    echo "Files: raw/models.csv (per model), raw/steps.csv (per step, microseconds)."
} >>"$summary"
bench_note "wrote $summary"
cat "$summary"
