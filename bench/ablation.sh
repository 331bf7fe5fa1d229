#!/usr/bin/env bash
# The paper's ablations and the headline comparison, as runs of the pipeline files in
# configs/pipelines/ablation/ and configs/pipelines/compare/ (files of one table differ
# only in the swapped line), then `litepred report` over each table's results.
#
# usage: bash bench/ablation.sh [options] [TABLE...]
#   TABLE        sampler | similarity | budget | compare (default: all four)
#   --targets L  comma-separated target platforms (default: each file's, the six 1-thread ones)
#   --models N   models per space in the evaluation (default: each file's, 30)
#   --pool DIR   knowledge pool root (default: each file's, pool/ from build-pool-all.yaml)
#   --budgets L  comma-separated budgets, replacing each file's list
#   --kernels L  comma-separated kernel types, replacing each file's list
#   --no-build   do not build the pool first (it must exist)
#   --out DIR    results (default bench/results/ablation)
# Without --no-build the pool is built first (configs/pipelines/build-pool-all.yaml and
# build-pool-all-minor.yaml; measurements already in pool.db are reused). An override makes
# a copy of the file under the output directory with the changed lines, and the summary
# says which. Everything is measured in pool.db, so an interrupted run resumes.
# env: LITEPRED  the litepred binary (default build/bin/litepred)
set -euo pipefail
bench_name=ablation
bench_argv=("$@")
source "$(dirname "$0")/common.sh"
bench_cmdline=$(bench_cmdline_of "$0" "${bench_argv[@]}")

targets= models= pool= budgets= kernels= build=1 out=bench/results/ablation
tables=()
while [ $# -gt 0 ]; do
    case $1 in
    --targets) targets=${2:?--targets needs a list}; shift 2 ;;
    --models) models=${2:?--models needs a number}; shift 2 ;;
    --pool) pool=${2:?--pool needs a directory}; shift 2 ;;
    --budgets) budgets=${2:?--budgets needs a list}; shift 2 ;;
    --kernels) kernels=${2:?--kernels needs a list}; shift 2 ;;
    --no-build) build=0; shift ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    -h|--help) bench_usage "$0"; exit 0 ;;
    -*) bench_die "unknown option '$1' (see --help)" ;;
    sampler|similarity|budget|compare) tables+=("$1"); shift ;;
    *) bench_die "unknown table '$1' (sampler, similarity, budget, compare)" ;;
    esac
done
[ ${#tables[@]} -gt 0 ] || tables=(sampler similarity budget compare)
case $models in ''|*[!0-9]*) [ -z "$models" ] || bench_die "--models needs a positive integer" ;; esac
if [ -n "$targets" ]; then IFS=, read -r -a tl <<<"$targets"; bench_check_platforms "${tl[@]}"; fi
bench_need_tools

files_of() {
    case $1 in
    sampler) echo configs/pipelines/ablation/sampler-{vae,adaptive,prior,random}.yaml ;;
    similarity) echo configs/pipelines/ablation/similarity-{kl,rank,random}.yaml ;;
    budget) echo configs/pipelines/ablation/budget-{finetune,scratch}.yaml ;;
    compare) echo configs/pipelines/compare/{litepred,nnmeter}.yaml ;;
    esac
}

# The file to run: the original, or a copy with the overridden keys (same file name, so
# the adapt defaults adapted/<stem> and reports/<stem> stay the same).
run_file() {
    local f=$1 copy
    if [ -z "$targets$models$pool$budgets$kernels" ]; then echo "$f"; return; fi
    mkdir -p "$out/pipelines"
    copy=$out/pipelines/$(basename "$f")
    awk -v t="$targets" -v m="$models" -v p="$pool" -v b="$budgets" -v k="$kernels" '
        function list(s) { gsub(/,/, ", ", s); return "[" s "]" }
        skip && /^[ \t]/ { next }          # continuation lines of a replaced key
        { skip = 0 }
        t != "" && /^target:/ { print "target: " list(t); skip = 1; next }
        k != "" && /^kernels:/ { print "kernels: " list(k); skip = 1; next }
        p != "" && /^pool:/ { print "pool: " p; next }
        b != "" && /^budgets:/ { print "budgets: " list(b); next }
        m != "" && /^  models:/ { print "  models: " m; next }
        { print }' "$f" >"$copy"
    echo "$copy"
}

mkdir -p "$out"
bench_mark_start
if [ $build = 1 ]; then
    bench_note "building the pool (build-pool-all.yaml, build-pool-all-minor.yaml)"
    lp run configs/pipelines/build-pool-all.yaml >"$out/build-pool.log" 2>&1 ||
        bench_die "pool build failed: see $out/build-pool.log"
    lp run configs/pipelines/build-pool-all-minor.yaml >>"$out/build-pool.log" 2>&1 ||
        bench_die "pool build failed: see $out/build-pool.log"
fi
for t in "${tables[@]}"; do
    dirs=()
    for f in $(files_of "$t"); do
        rf=$(run_file "$f")
        stem=$(basename "$f" .yaml)
        bench_note "$t: running $rf"
        lp run "$rf" >"$out/$stem.log" 2>&1 || bench_die "$rf failed: see $out/$stem.log"
        dirs+=("reports/$stem")
    done
    mkdir -p "$out/$t"
    lp report "${dirs[@]}" -o "$out/$t" >"$out/$t/report.log" 2>&1 ||
        bench_die "litepred report failed: see $out/$t/report.log"
    bench_header "$out/$t/summary.md" "Ablation: $t"
    {
        echo "- pipeline files: $(files_of "$t")"
        [ -z "$targets$models$pool$budgets$kernels" ] ||
            echo "- overrides: targets=${targets:-file} models=${models:-file} pool=${pool:-file} budgets=${budgets:-file} kernels=${kernels:-file} (copies in $out/pipelines/)"
        echo "- full report with plots: [report.md](report.md)"
        echo
        cat "$out/$t/report.md"
    } >>"$out/$t/summary.md"
    bench_note "$t: $out/$t/summary.md"
done
