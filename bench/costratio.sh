#!/usr/bin/env bash
# Profiling-cost ratio at equal accuracy (the paper's 50.6x) from two adapt reports of the
# same targets and budgets: one fine-tuned from the pool, one trained from scratch
# (configs/pipelines/ablation/budget-{finetune,scratch}.yaml). Per target: the fine-tuned
# RMSPE over all models at the smallest budget, the smallest scratch budget whose RMSPE is
# as low or lower, the profiling seconds of both (adapt.csv's profiling_s: every target
# config used, representative set included) and their ratio. RMSPE, not +-10%, is matched
# because it moves smoothly with the budget; a scratch run that never gets there is shown
# as "not reached by" its largest budget, with that budget's RMSPE and profiling: reaching
# it would take a budget beyond those run, so the ratio is a lower bound (">").
#
# usage: bash bench/costratio.sh FINETUNE_REPORT_DIR SCRATCH_REPORT_DIR
#   e.g. bash bench/costratio.sh bench/results/ablation-loo/reports-similarity-kl \
#                                bench/results/ablation-loo/reports-budget-scratch
set -euo pipefail
source "$(dirname "$0")/lib.sh"
case ${1:-} in -h|--help|'') bench_usage "$0"; exit 0 ;; esac
[ $# = 2 ] || { echo "costratio: two report directories expected (see --help)" >&2; exit 2; }
for d in "$1" "$2"; do
    [ -f "$d/adapt.csv" ] || { echo "costratio: no $d/adapt.csv" >&2; exit 2; }
done
echo "| target | fine-tuned budget | RMSPE | profiling (s) | scratch budget at that RMSPE | RMSPE | profiling (s) | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
# adapt.csv: target,budget,finetune,similarity,sampler,predictor,target_configs,profiling_s,space,models,rmse_ms,rmspe,acc5,acc10
awk -F, '
    FNR == 1 { file++; next }
    $9 != "all" { next }
    file == 1 { if (!($1 in fb) || $2 + 0 < fb[$1]) { fb[$1] = $2 + 0; fr[$1] = $12; fp[$1] = $8 }
                if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
    file == 2 { k = ++sc[$1]; sb[$1, k] = $2 + 0; sr[$1, k] = $12; sp[$1, k] = $8 }
    END {
        for (i = 1; i <= n; i++) {
            t = order[i]; best = 0
            for (k = 1; k <= sc[t]; k++)   # the smallest scratch budget at or under the RMSPE
                if (sr[t, k] + 0 <= fr[t] + 0 && (!best || sb[t, k] < sb[t, best])) best = k
            if (best)
                printf "| %s | %d | %.1f%% | %.1f | %d | %.1f%% | %.1f | %.2fx |\n", t, fb[t], fr[t], fp[t],
                       sb[t, best], sr[t, best], sp[t, best], sp[t, best] / fp[t]
            else if (sc[t]) {
                hi = 1; for (k = 2; k <= sc[t]; k++) if (sb[t, k] > sb[t, hi]) hi = k
                printf "| %s | %d | %.1f%% | %.1f | not reached by %d | %.1f%% | %.1f | > %.2fx |\n", t, fb[t],
                       fr[t], fp[t], sb[t, hi], sr[t, hi], sp[t, hi], sp[t, hi] / fp[t]
            } else
                printf "| %s | %d | %.1f%% | %.1f | no scratch run | | | |\n", t, fb[t], fr[t], fp[t]
        }
    }' "$1/adapt.csv" "$2/adapt.csv"
