#!/usr/bin/env bash
# Whole model vs sum of kernel predictions, per target and space, from an adapt report:
# the median and the spread of measured / predicted over the evaluated models. A median far
# from 1 with a small spread is a systematic gap (non-additivity), not predictor noise.
#
#   bash bench/gap.sh REPORT_DIR BUDGET      e.g. bash bench/gap.sh reports/similarity-kl 500
#
# Reads REPORT_DIR/<target>/b<BUDGET>/models.csv (written by `pipeline: adapt`); prints a
# Markdown table: one row per target, one "median (sd)" cell per space.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || { bench_usage "$0"; exit 2; }
dir=$1 budget=$2
files=("$dir"/*/b"$budget"/models.csv)
[ -e "${files[0]}" ] || { echo "gap.sh: no $dir/*/b$budget/models.csv" >&2; exit 2; }
spaces=$(awk -F, 'FNR > 1 { print $1 }' "${files[@]}" | sort -u)
printf '| target |'; for s in $spaces; do printf ' %s |' "$s"; done; echo
printf '|---|'; for s in $spaces; do printf -- '---:|'; done; echo
for f in "${files[@]}"; do
    t=$(basename "$(dirname "$(dirname "$f")")")
    printf '| %s |' "$t"
    for s in $spaces; do
        awk -F, -v s="$s" 'FNR > 1 && $1 == s && $4 > 0 { print $3 / $4 }' "$f" | sort -g |
            awk '{ v[NR] = $1; sum += $1; sq += $1 * $1 }
                 END { if (NR == 0) { printf " - |"; exit }
                       m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                       sd = sqrt(sq / NR - (sum / NR) ^ 2); if (sd != sd) sd = 0
                       printf " %.2f (%.2f) |", m, sd }'
    done
    echo
done
