#!/usr/bin/env bash
# Side-by-side tables of adapt reports (the "all" rows of each adapt.csv): the README's
# leave-one-out tables (similarity, sampler, budget, LitePred vs nn-Meter) come from here.
#
# usage: bash bench/series.sh [--metric M] [--long] [--budgets L] NAME=REPORT_DIR...
#   NAME=DIR     a column (or, with --long, a method) named NAME from DIR/adapt.csv
#   --metric M   acc10 (default), acc5 or rmspe: the value in each wide cell
#   --budgets L  comma-separated budgets to show (default: every budget of the first DIR)
#   --long       one row per target, method and budget: target configs, profiling seconds,
#                models, +-10%, +-5% and RMSPE (the nn-Meter table's shape)
# Wide form: one row per target (in the first DIR's order), one column per NAME, each cell
# the metric at the budgets, "v1 / v2 / ...", "-" where that report has no such row.
# Targets a later report lacks show "-"; targets only a later report has are left out.
#   e.g. bash bench/series.sh kl=bench/results/ablation-loo/reports-similarity-kl \
#                             random=bench/results/ablation-loo/reports-similarity-random
set -euo pipefail
source "$(dirname "$0")/lib.sh"
die() { echo "series: $*" >&2; exit 2; }
metric=acc10 budgets= long=0 names=() dirs=()
while [ $# -gt 0 ]; do
    case $1 in
    -h|--help) bench_usage "$0"; exit 0 ;;
    --metric) metric=${2:-}; shift 2 || die "--metric needs acc10, acc5 or rmspe" ;;
    --budgets) budgets=${2:-}; shift 2 || die "--budgets needs a list" ;;
    --long) long=1; shift ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *=*) names+=("${1%%=*}"); dirs+=("${1#*=}"); shift ;;
    *) die "'$1' is not NAME=REPORT_DIR (see --help)" ;;
    esac
done
case $metric in acc10) col=14 ;; acc5) col=13 ;; rmspe) col=12 ;; *) die "--metric: acc10, acc5 or rmspe, not '$metric'" ;; esac
case $budgets in *[!0-9,]*) die "--budgets: comma-separated integers, not '$budgets'" ;; esac
[ ${#dirs[@]} -gt 0 ] || die "no NAME=REPORT_DIR given (see --help)"
want="target,budget,finetune,similarity,sampler,predictor,target_configs,profiling_s,space,models,rmse_ms,rmspe,acc5,acc10"
for d in "${dirs[@]}"; do
    [ -f "$d/adapt.csv" ] || die "no $d/adapt.csv"
    [ "$(head -n 1 "$d/adapt.csv")" = "$want" ] || die "$d/adapt.csv: header is not '$want'"
done
files=()
for d in "${dirs[@]}"; do files+=("$d/adapt.csv"); done

awk -F, -v col="$col" -v budgets="$budgets" -v long="$long" -v names="$(IFS=,; echo "${names[*]}")" '
    function fmt(v) { return v == "nan" || v == "" ? "-" : sprintf("%.1f", v) }
    function commas(x,   s, n) { s = sprintf("%.0f", x); n = length(s)
        while (n > 3) { s = substr(s, 1, n - 3) "," substr(s, n - 2); n -= 3 }; return s }
    function commas10(x,   r, p) { r = sprintf("%.1f", x); p = index(r, "."); return commas(substr(r, 1, p - 1) + 0) substr(r, p) }
    BEGIN { nn = split(names, name, ","); if (budgets != "") nb = split(budgets, bl, ",") }
    FNR == 1 { file++; next }
    $9 != "all" { next }
    {
        if (file == 1 && !($1 in tseen)) { tseen[$1] = 1; tord[++nt] = $1 }
        if (file == 1 && budgets == "" && !($2 in bseen)) { bseen[$2] = 1; bl[++nb] = $2 }
        key = file SUBSEP $1 SUBSEP ($2 + 0)
        val[key] = $col; cfg[key] = $7; prof[key] = $8; mods[key] = $10
        a10[key] = $14; a5[key] = $13; rp[key] = $12
    }
    END {
        if (long) {
            print "| target | method | budget | target configs | profiling (s) | models | +-10% | +-5% | RMSPE |"
            print "|---|---|---:|---:|---:|---:|---:|---:|---:|"
            for (i = 1; i <= nt; i++) for (b = 1; b <= nb; b++) for (f = 1; f <= nn; f++) {
                key = f SUBSEP tord[i] SUBSEP (bl[b] + 0)
                if (!(key in val)) continue
                printf "| %s | %s | %d | %s | %s | %d | %s%% | %s%% | %s%% |\n", tord[i], name[f], bl[b],
                       commas(cfg[key]), commas10(prof[key]), mods[key], fmt(a10[key]), fmt(a5[key]), fmt(rp[key])
            }
            exit
        }
        head = "| target |"; rule = "|---|"
        for (f = 1; f <= nn; f++) { head = head " " name[f] " |"; rule = rule "---|" }
        print head; print rule
        for (i = 1; i <= nt; i++) {
            line = "| " tord[i] " |"
            for (f = 1; f <= nn; f++) {
                cell = ""
                for (b = 1; b <= nb; b++) {
                    key = f SUBSEP tord[i] SUBSEP (bl[b] + 0)
                    cell = cell (b > 1 ? " / " : "") (key in val ? fmt(val[key]) : "-")
                }
                line = line " " cell " |"
            }
            print line
        }
        printf "\n(%s at budgets %s", col == 14 ? "+-10%" : col == 13 ? "+-5%" : "RMSPE", bl[1]
        for (b = 2; b <= nb; b++) printf " / %s", bl[b]
        print "; space \"all\" rows of adapt.csv)"
    }
' "${files[@]}"
