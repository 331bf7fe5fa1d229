#!/usr/bin/env bash
# Additivity benchmark (issue 4, benchmark 3): is a model's latency the sum of its
# kernels' latencies? For M models per space and each platform, measures every
# model whole (one graph) and every distinct kernel of those models alone, then
# computes per model ratio = whole / sum(kernel medians), the sum running over
# the model's kernel entries (a repeated config counts each time it occurs).
# Structural ops (tokens, token-pool) have no kernel and count only in the whole.
#
# usage: bash bench/additivity.sh [-m M] [--quick] [--seed S] [--spaces S1,S2,...] [--out DIR] [PLATFORM...]
#   -m M        models per space (default 20)
#   --quick     M = 4
#   --seed S    sampling seed (default 1): models are `litepred space sample SPACE --seed S` 0..M-1
#   --spaces    default ofa-mbv3-w1.0,ofa-proxyless,ofa-resnet,bignas,fbnetv3,autoformer-tiny
#   --out DIR   results directory (default bench/results/additivity, or additivity-quick)
#   PLATFORM    default native-fp32-1t xnnpack-fp32-1t onednn-fp32-1t
# env: LITEPRED  the litepred binary (default build/bin/litepred)
#
# Models an engine cannot run (a kernel without a primitive: operator fallback)
# are counted as unsupported, not in the ratios.
set -euo pipefail
bench_name=additivity
bench_argv=("$@")
source "$(dirname "$0")/common.sh"
bench_cmdline=$(bench_cmdline_of "$0" "${bench_argv[@]}")

count=20
seed=1
spaces=ofa-mbv3-w1.0,ofa-proxyless,ofa-resnet,bignas,fbnetv3,autoformer-tiny
out=
bench_parse_run_args -m 4 "$@"
m=$count
[ ${#platforms[@]} -gt 0 ] || platforms=(native-fp32-1t xnnpack-fp32-1t onednn-fp32-1t)
bench_check_platforms "${platforms[@]}"
if [ -z "$out" ]; then out=bench/results/additivity; [ $quick = 0 ] || out+=-quick; fi
IFS=, read -r -a space_list <<<"$spaces"
bench_need_tools

bench_begin_run "$out"

# ---- measure: per platform and space, the models whole, then their kernels -------------
for p in "${platforms[@]}"; do
    for s in "${space_list[@]}"; do
        bench_note "$p: $s: $m models whole, then their kernels"
        for what in whole kernels; do
            extra=()
            [ $what = kernels ] && extra=(--kernels)
            bench_measure "$work/log-$p-$s-$what" --platform "$p" --db "$work/$p.db" --space "$s" \
                -n "$m" --seed "$seed" "${extra[@]}"
        done
    done
    lp store export "$work/$p.db" --csv --table kernels --out "$out/raw/$p-kernels.csv"
    lp store export "$work/$p.db" --csv --table models --out "$out/raw/$p-models.csv"
done
load_after_measure=$(bench_loadavg)

# ---- ratios ----------------------------------------------------------------------------
# The sampled models' names and texts come from the space (the store keeps only the
# models that were measured whole): litepred space sample writes the same files.
for s in "${space_list[@]}"; do
    lp --quiet space sample "$s" -n "$m" --seed "$seed" --out "$work/sp/$s" >/dev/null
done
echo "platform,space,model,whole_ms,sum_ms,ratio,kernels,status" >"$out/models.csv"
for p in "${platforms[@]}"; do
    sqlite3 -separator '|' "$work/$p.db" \
        "SELECT kernel_type || '|' || config, median_ms FROM kernel_measurements" >"$work/k-$p"
    sqlite3 -separator '|' "$work/$p.db" \
        "SELECT m.name, mm.median_ms FROM model_measurements mm JOIN models m ON m.id = mm.model_id" >"$work/w-$p"
    for s in "${space_list[@]}"; do
        for f in $(ls "$work/sp/$s"/*.yaml | sort); do
            awk -v p="$p" -v s="$s" -v kf="$work/k-$p" -v wf="$work/w-$p" '
                BEGIN { while ((getline l < kf) > 0) { i = split(l, f, "|"); k[f[1] "|" f[2]] = f[3] }
                        while ((getline l < wf) > 0) { split(l, f, "|"); w[f[1]] = f[2] } }
                /^model: / { name = $2 }
                match($0, /type: [a-z0-9-]+, config: "[^"]*"/) {
                    e = substr($0, RSTART + 6, RLENGTH - 7); sub(/, config: "/, "|", e)
                    n++; if (e in k) sum += k[e]; else miss++ }
                END {
                    st = (name in w) ? (miss ? "kernels-missing" : "ok") : (miss ? "unsupported" : "whole-missing")
                    printf "%s,%s,%s,%s,%s,%s,%d,%s\n", p, s, name, (name in w) ? w[name] : "",
                        miss ? "" : sprintf("%.6f", sum), (st == "ok" && sum > 0) ? sprintf("%.4f", w[name] / sum) : "", n, st }' "$f"
        done
    done
done >>"$out/models.csv"

summary=$out/summary.md
bench_header "$summary" "Additivity benchmark: whole model / sum of its kernels"
{
    echo "- models: $m per space (seed $seed), spaces: ${space_list[*]}"
    echo "- load average after the measurements: $load_after_measure"
    echo "- ratio = whole-model median / sum over the model's kernel entries of the kernel medians (same platform, same store, same run)"
    echo
    echo "| platform | space | models | unsupported | median ratio | min | max |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    for p in "${platforms[@]}"; do
        for s in "${space_list[@]}"; do
            awk -F, -v p="$p" -v s="$s" "$bench_awk_lib"'$1 == p && $2 == s {
                    t++; if ($8 == "ok") v[++c] = $6; else if ($8 == "unsupported") u++; else o++ }
                END {
                    if (!c) { printf "| %s | %s | 0 | %d | - | - | - |\n", p, s, u + 0; exit }
                    m = med(v, c)
                    printf "| %s | %s | %d | %d%s | %.3f | %.3f | %.3f |\n", p, s, c, u + 0, o ? sprintf(" (+%d other)", o) : "", m, v[1], v[c] }' "$out/models.csv"
        done
    done
    echo
    echo "Median ratio, spaces x platforms:"
    echo
    printf '| space |'; printf ' %s |' "${platforms[@]}"; echo
    printf '|---|'; printf -- '---:|%.0s' "${platforms[@]}"; echo
    for s in "${space_list[@]}"; do
        printf '| %s |' "$s"
        for p in "${platforms[@]}"; do
            awk -F, -v p="$p" -v s="$s" "$bench_awk_lib"'$1 == p && $2 == s && $8 == "ok" { v[++c] = $6 }
                END { if (!c) { printf " unsupported |"; exit }
                      printf " %.3f |", med(v, c) }' "$out/models.csv"
        done
        echo
    done
    echo
    fails=$(cat "$work"/log-* /dev/null 2>/dev/null | awk '/FAILED:/ { m = $0; sub(/.*FAILED: /, "", m); print m }' | sort | uniq -c | sort -rn)
    if [ -n "$fails" ]; then
        echo "Why models or kernels were not measured (distinct messages, with counts over platforms and spaces):"
        echo
        printf '%s\n' "$fails" | awk '{ c = $1; sub(/^ *[0-9]+ /, ""); if (length($0) > 200) $0 = substr($0, 1, 197) "..."; printf "- %d x %s\n", c, $0 }'
        echo
    fi
    if [ -s "$bench_failures" ]; then
        echo "Launch failures (crashes or errors other than unsupported kernels; each retried once):"
        echo
        sed 's/^/- /' "$bench_failures"
        echo
    fi
    echo "Files: models.csv (per model: whole, sum of kernels, ratio, status), raw/PLATFORM-kernels.csv and raw/PLATFORM-models.csv (litepred store export)."
} >>"$summary"
bench_note "wrote $summary"
cat "$summary"
