#!/usr/bin/env bash
# Drift of the machine between a store's measurements and now: re-measures, in a fresh
# store, whole models that STORE already has (and, with --kernels, every distinct kernel of
# those models), then compares each with its stored median. A store filled over several
# sessions mixes measurements taken under different host load; if the machine has drifted,
# a predictor trained on old kernel timings and evaluated on new whole-model timings (or the
# reverse) inherits the ratio printed here as a bias no predictor can remove.
#
# usage: bash bench/drift.sh --store DB [--now DB2] [-n N] [--seed S] [--spaces S1,S2,...]
#                            [--kernels] [--out DIR] PLATFORM...
#   --store DB   the store to compare with (e.g. pool.db of the ablations); never written
#   --now DB2    measure nothing: compare with the rows of DB2 (a store filled at another
#                time, e.g. by bench/accuracy.sh --pool-from) instead; every model (and, with
#                --kernels, kernel) both stores have counts, so -n and --seed do not apply
#   -n N         models per space (default 15: the first 15 of --seed, which the
#                leave-one-out evaluations measured)
#   --seed S     model sampling seed (default 11, the evaluate pipelines' seed)
#   --spaces     spaces (default every space; models the engine cannot run are skipped)
#   --kernels    also re-measure every distinct kernel of those models
#   --out DIR    results directory (default bench/results/drift): summary.md, raw/
# Per platform and space (and "all" per platform): how many stored rows matched, the median
# and 10th / 90th percentile of now / stored, the share of rows whose two medians agree within
# +-5% and +-10% (a ceiling for any predictor's accuracy judged against one of them), and
# when the stored rows were measured (first, last). A ratio above 1 means the machine is
# slower now than when the store was filled.
set -euo pipefail
bench_name=drift
bench_argv=("$@")
source "$(dirname "$0")/common.sh"
bench_cmdline=$(bench_cmdline_of "$0" "${bench_argv[@]}")

store= now= count=15 seed=11 kernels=0 out=bench/results/drift
spaces=ofa-mbv3-w1.0,ofa-proxyless,ofa-resnet,bignas,fbnetv3,autoformer-tiny
bench_extra_opt() {
    case $1 in
    --store) [ $# -ge 2 ] || bench_die "--store needs a file"; store=$2; bench_took=2 ;;
    --now) [ $# -ge 2 ] || bench_die "--now needs a file"; now=$2; bench_took=2 ;;
    --kernels) kernels=1; bench_took=1 ;;
    esac
}
bench_parse_run_args -n - "$@"
[ -n "$store" ] || bench_die "--store is required (see --help)"
[ -f "$store" ] || bench_die "no store $store"
[ -z "$now" ] || [ -f "$now" ] || bench_die "no store $now"
[ ${#platforms[@]} -gt 0 ] || bench_die "no PLATFORM given (see --help)"
bench_check_platforms "${platforms[@]}"
IFS=, read -r -a space_list <<<"$spaces"
bench_need_tools
case $store in /*) ;; *) store=$bench_root/$store ;; esac
case $now in ''|/*) ;; *) now=$bench_root/$now ;; esac

bench_begin_run "$out"
tab=$'\t'
now_db=${now:-$work/now.db}
rows=$out/raw/ratios.tsv
printf 'platform\tspace\twhat\tkey\tstored_ms\tnow_ms\tstored_at\n' >"$rows"
for p in "${platforms[@]}"; do
    for s in "${space_list[@]}"; do
        if [ -z "$now" ]; then
            bench_note "$p $s: $count models"
            bench_measure "$out/raw/measure.log" --platform "$p" --db "$now_db" --space "$s" -n "$count" --seed "$seed"
        fi
        if [ "$kernels" = 1 ] && [ -z "$now" ]; then
            bench_note "$p $s: kernels of those models"
            bench_measure "$out/raw/measure.log" --platform "$p" --db "$now_db" --space "$s" -n "$count" \
                --seed "$seed" --kernels
        fi
        # Models of this space (their key starts with the space's sample names) and, with
        # --kernels, every kernel row both stores have, joined on what identifies them.
        sqlite3 -readonly -separator "$tab" "$now_db" "ATTACH '$store' AS old;
            SELECT '$p', '$s', 'model', m.name, om.median_ms, nm.median_ms,
                   datetime(om.measured_at, 'unixepoch')
              FROM model_measurements nm JOIN models m ON m.id = nm.model_id
              JOIN platforms np ON np.id = nm.platform_id AND np.name = '$p'
              JOIN old.models o ON o.key = m.key
              JOIN old.platforms op ON op.name = '$p'
              JOIN old.model_measurements om ON om.model_id = o.id AND om.platform_id = op.id
             WHERE m.space = '$s';" >>"$rows"
    done
    if [ "$kernels" = 1 ]; then
        sqlite3 -readonly -separator "$tab" "$now_db" "ATTACH '$store' AS old;
            SELECT '$p', '-', 'kernel ' || nk.kernel_type, nk.config, ok.median_ms, nk.median_ms,
                   datetime(ok.measured_at, 'unixepoch')
              FROM kernel_measurements nk JOIN platforms np ON np.id = nk.platform_id AND np.name = '$p'
              JOIN old.platforms op ON op.name = '$p'
              JOIN old.kernel_measurements ok ON ok.platform_id = op.id
                   AND ok.kernel_type = nk.kernel_type AND ok.config = nk.config;" >>"$rows"
    fi
done

if [ -n "$now" ]; then
    bench_header "$out/summary.md" "Drift: $(basename "$now") vs $(basename "$store") (nothing measured)"
else
    bench_header "$out/summary.md" "Drift: re-measured now vs $(basename "$store")"
fi
{
    echo
    echo "| platform | space | what | rows | now / stored: median | p10 | p90 | within +-5% | within +-10% | stored between (UTC) |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' "$bench_awk_lib"'
        function add(k) {
            if (!(k in n)) order[++nk] = k
            n[k]++; v[k, n[k]] = $6 / $5
            if (!(k in lo) || $7 < lo[k]) lo[k] = $7; if ($7 > hi[k]) hi[k] = $7
        }
        NR == 1 { next }
        { add($1 SUBSEP $2 SUBSEP $3); if ($3 == "model") add($1 SUBSEP "all" SUBSEP $3) }
        END { # the per-platform "all" rows after the per-space ones
            for (i = 1; i <= nk; i++) if (order[i] !~ SUBSEP "all" SUBSEP) row(order[i])
            for (i = 1; i <= nk; i++) if (order[i] ~ SUBSEP "all" SUBSEP) row(order[i])
        }
        function row(k,   c, x, w5, w10, j, d, m, f) {
                c = n[k]; split("", x); w5 = w10 = 0
                for (j = 1; j <= c; j++) {
                    x[j] = v[k, j]; d = x[j] > 1 ? x[j] - 1 : 1 - x[j]
                    w5 += d <= 0.05; w10 += d <= 0.10
                }
                m = med(x, c)
                split(k, f, SUBSEP)
                printf "| %s | %s | %s | %d | %.3f | %.3f | %.3f | %.1f%% | %.1f%% | %s - %s |\n", f[1], f[2], f[3],
                       c, m, x[int((c - 1) * 0.1) + 1], x[int((c - 1) * 0.9) + 1], 100 * w5 / c,
                       100 * w10 / c, lo[k], hi[k]
        }' "$rows"
    if [ -s "$bench_failures" ]; then echo; echo "Launch failures:"; sed 's/^/    /' "$bench_failures"; fi
} >>"$out/summary.md"
cat "$out/summary.md"
