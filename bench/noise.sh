#!/usr/bin/env bash
# Noise benchmark (issue 4, benchmark 2): how far a kernel's stored median moves
# between two SEPARATE measurement passes (two stores, two process launches per
# platform and space), on N realistic kernel configs drawn from models sampled
# from several NAS spaces. Reports per platform the median and 95th percentile of
# the relative difference |a - b| / min(a, b) between the passes.
#
# usage: bash bench/noise.sh [--quick] [-n N] [--seed S] [--spaces S1,S2,...] [--out DIR] [PLATFORM...]
#   -n N        kernel configs compared per platform (default 200)
#   --quick     N = 40
#   --seed S    model sampling seed (default 1)
#   --spaces    spaces the configs come from (default
#               ofa-mbv3-w1.0,ofa-resnet,bignas,fbnetv3,autoformer-tiny)
#   --out DIR   results directory (default bench/results/noise, or noise-quick)
#   PLATFORM    names from configs/platforms/ (default: every 1-thread platform,
#               plus native-fp32-2t and onednn-fp32-2t)
# env: LITEPRED  the litepred binary (default build/bin/litepred)
#
# How the N configs are chosen: for each space, the first M models of
# `litepred space sample SPACE --seed S` with M the smallest count giving at least
# 1.3 * N / #spaces distinct kernel configs; each space's configs are ordered by a
# fixed string hash and the spaces are interleaved round-robin (duplicates
# dropped) until N are chosen. Each pass measures with
# `litepred measure --space SPACE -n M --seed S --kernels` (the campaign path:
# every distinct kernel of those models, in one launch per space), so a pass
# measures somewhat more than N configs; only the N chosen ones are compared.
set -euo pipefail
bench_name=noise
bench_argv=("$@")
source "$(dirname "$0")/common.sh"
bench_cmdline=$(bench_cmdline_of "$0" "${bench_argv[@]}")

count=200
seed=1
spaces=ofa-mbv3-w1.0,ofa-resnet,bignas,fbnetv3,autoformer-tiny
out=
bench_parse_run_args -n 40 "$@"
n=$count
if [ ${#platforms[@]} -eq 0 ]; then
    for p in $(bench_all_platforms); do
        [ "$(bench_platform_threads "$p")" = 1 ] && platforms+=("$p")
    done
    platforms+=(native-fp32-2t onednn-fp32-2t)
fi
bench_check_platforms "${platforms[@]}"
if [ -z "$out" ]; then out=bench/results/noise; [ $quick = 0 ] || out+=-quick; fi
IFS=, read -r -a space_list <<<"$spaces"
bench_need_tools

bench_begin_run "$out"

# ---- choose the N configs -------------------------------------------------------------
nsp=${#space_list[@]}
want=$(( (13 * n + 10 * nsp - 1) / (10 * nsp) ))   # ceil(1.3 * n / nsp)
declare -A models_of
: >"$work/candidates"    # space_index|space|rank|type|config
si=0
for s in "${space_list[@]}"; do
    si=$((si + 1))
    lp --quiet space sample "$s" -n 50 --seed "$seed" --out "$work/sp/$s" >/dev/null
    # model files in sampling order; distinct "type|config" in order of first appearance
    ls "$work/sp/$s"/*.yaml | sort >"$work/files-$s"
    m=$(awk -v want="$want" '
        done { next }
        { file = $0
          while ((getline l < file) > 0)
              if (match(l, /type: [a-z0-9-]+, config: "[^"]*"/)) {
                  e = substr(l, RSTART + 6, RLENGTH - 7); sub(/, config: "/, "|", e)
                  if (!(e in seen)) { seen[e] = 1; d++ }
              }
          close(file); if (d >= want) { print NR; done = 1 } }
        END { if (!done) print NR }' "$work/files-$s")
    models_of[$s]=$m
    awk -v m="$m" 'NR <= m' "$work/files-$s" | xargs cat | awk -v si="$si" -v sp="$s" -v seed="$seed" '
        BEGIN { for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i }
        function hash(str,    h, i) { h = seed % 1000003; for (i = 1; i <= length(str); i++) h = (h * 131 + ord[substr(str, i, 1)]) % 1000000007; return h }
        match($0, /type: [a-z0-9-]+, config: "[^"]*"/) {
            e = substr($0, RSTART + 6, RLENGTH - 7); sub(/, config: "/, "|", e)
            if (!(e in seen)) { seen[e] = 1; printf "%d|%s|%d|%s\n", si, sp, hash(e), e }
        }' | sort -t'|' -k3,3n | awk -F'|' -v OFS='|' '{ print $1, $2, NR, $4, $5 }' >>"$work/candidates"
done
sort -t'|' -k3,3n -k1,1n "$work/candidates" | awk -F'|' -v n="$n" -v OFS='|' '
    !(($4 "|" $5) in seen) && c < n { seen[$4 "|" $5] = 1; c++; print $2, $4, $5 }' >"$work/selected"
nsel=$(wc -l <"$work/selected")
{ echo "space,kernel_type,config"; awk -F'|' '{ printf "%s,%s,\"%s\"\n", $1, $2, $3 }' "$work/selected"; } >"$out/configs.csv"
bench_note "noise: $nsel configs chosen from ${space_list[*]} (models per space: $(for s in "${space_list[@]}"; do printf '%s=%s ' "$s" "${models_of[$s]}"; done))"

# ---- two passes, each a separate store and separate launches --------------------------
declare -A load_at
for pass in 1 2; do
    load_at[$pass]=$(bench_loadavg)
    for p in "${platforms[@]}"; do
        bench_note "pass $pass: $p"
        for s in "${space_list[@]}"; do
            bench_measure "$work/log$pass-$p" --platform "$p" --db "$work/pass$pass-$p.db" \
                --space "$s" -n "${models_of[$s]}" --seed "$seed" --kernels
        done
        if [ -f "$work/pass$pass-$p.db" ]; then
            lp store export "$work/pass$pass-$p.db" --csv --out "$out/raw/pass$pass-$p.csv"
        fi
    done
done
load_at[3]=$(bench_loadavg)

# ---- compare ---------------------------------------------------------------------------
: >"$work/pairs"   # platform|type|config|a|b
: >"$work/unsup"   # platform|type|config|message
for p in "${platforms[@]}"; do
    if [ -f "$work/pass1-$p.db" ] && [ -f "$work/pass2-$p.db" ]; then
        sqlite3 -separator '|' "$work/pass1-$p.db" "ATTACH '$work/pass2-$p.db' AS b;
            SELECT '$p', a.kernel_type, a.config, a.median_ms, bb.median_ms
            FROM main.kernel_measurements a JOIN b.kernel_measurements bb
              ON bb.kernel_type = a.kernel_type AND bb.config = a.config" >>"$work/pairs"
    fi
    awk -v p="$p" '/FAILED:/ { m = $0; sub(/.*FAILED: /, "", m); printf "%s|%s|%s|%s\n", p, $1, $2, m }' \
        "$work/log1-$p" >>"$work/unsup" 2>/dev/null || true
done
{
    echo "platform,kernel_type,config,pass1_ms,pass2_ms,rel_diff"
    awk -F'|' 'NR == FNR { sel[$2 "|" $3] = 1; next }
        ($2 "|" $3) in sel { lo = $4 < $5 ? $4 : $5; d = $4 > $5 ? $4 - $5 : $5 - $4
            printf "%s,%s,\"%s\",%s,%s,%.6f\n", $1, $2, $3, $4, $5, (lo > 0 ? d / lo : 0) }' \
        "$work/selected" "$work/pairs"
} >"$out/pairs.csv"

summary=$out/summary.md
bench_header "$summary" "Noise benchmark: kernel medians in two separate passes"
{
    echo "- configs: $nsel chosen (seed $seed) from ${space_list[*]}; models per space: $(for s in "${space_list[@]}"; do printf '%s %s, ' "$s" "${models_of[$s]}"; done | sed 's/, $//')"
    echo "- load average at pass 1 start: ${load_at[1]}; pass 2 start: ${load_at[2]}; end: ${load_at[3]}"
    echo "- rel diff = |a - b| / min(a, b), a and b the stored medians of the two passes (each pass: its own store, its own process launches)"
    echo "- p95: nearest rank; count: chosen configs measured in both passes; unsupported: chosen configs the engine cannot run"
    echo
    echo "| platform | count | median rel diff | p95 rel diff | max | share > 1% | unsupported |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for p in "${platforms[@]}"; do
        uns=$(awk -F'|' 'NR == FNR { sel[$2 "|" $3] = 1; next } $1 == p && ($2 "|" $3) in sel' p="$p" \
            "$work/selected" "$work/unsup" | sort -u | wc -l)
        awk -F, -v p="$p" -v uns="$uns" "$bench_awk_lib"'NR > 1 && $1 == p { v[++c] = $NF }
            END {
                if (!c) { printf "| %s | 0 | - | - | - | - | %d |\n", p, uns; exit }
                m = med(v, c)
                r = int(0.95 * c); if (r < 0.95 * c) r++; if (r < 1) r = 1
                for (i = 1; i <= c; i++) over += v[i] > 0.01
                printf "| %s | %d | %.2f%% | %.2f%% | %.1f%% | %.0f%% | %d |\n", p, c, 100 * m, 100 * v[r], 100 * v[c], 100 * over / c, uns }' \
            "$out/pairs.csv"
    done
    echo
    echo "Median rel diff by latency (mean of the two passes), count in parentheses:"
    echo
    echo "| platform | < 10 us | 10-100 us | 0.1-1 ms | >= 1 ms |"
    echo "|---|---:|---:|---:|---:|"
    for p in "${platforms[@]}"; do
        # config fields are quoted and hold commas: read the numbers from the end
        awk -F, -v p="$p" "$bench_awk_lib"'NR > 1 && $1 == p {
                m = ($(NF - 2) + $(NF - 1)) / 2; b = m < 0.01 ? 1 : m < 0.1 ? 2 : m < 1 ? 3 : 4
                c[b]++; v[b, c[b]] = $NF }
            END {
                printf "| %s |", p
                for (b = 1; b <= 4; b++) {
                    k = c[b] + 0
                    if (!k) { printf " - |"; continue }
                    for (i = 1; i <= k; i++) w[i] = v[b, i]
                    printf " %.2f%% (%d) |", 100 * med(w, k), k }
                printf "\n" }' "$out/pairs.csv"
    done
    echo
    if [ -s "$bench_failures" ]; then
        echo "Launch failures (crashes or errors other than unsupported kernels; each retried once):"
        echo
        sed 's/^/- /' "$bench_failures"
        echo
    fi
    echo "Files: configs.csv (the chosen configs), pairs.csv (both medians and the rel diff per platform and config), raw/passP-PLATFORM.csv (litepred store export of each pass's store)."
} >>"$summary"
bench_note "wrote $summary"
cat "$summary"
