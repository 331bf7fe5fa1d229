#!/usr/bin/env bash
# Accuracy of predictors built from scratch (issue 5): for each platform, runs the committed
# configs/pipelines/build-PLATFORM.yaml and evaluate-PLATFORM.yaml (2,000 prior configs per
# kernel type, 350 epochs, 100 models per space), with only the store, pool and report paths
# (and, when given, the counts) rewritten, and keeps their output.
#
# usage: bash bench/accuracy.sh [options] PLATFORM...
#   --store FILE   measurement store to use and add to (default: OUT/litepred.db); pointing it
#                  at a store that already has this machine's measurements (the ablations'
#                  pool.db) skips measuring what it has
#   --count N      configs per kernel type (default: the build file's, 2000)
#   --epochs N     training epochs (default: the build file's, 350)
#   --models N     models per space (default: the evaluate file's, 100)
#   --calibrate N  also measure N more models per space and report calibrated tables (default 0)
#   --out DIR      results root (default bench/results/accuracy); one sub-directory per platform
#                  (+ -cCOUNT-eEPOCHS-mMODELS when the counts are not the files')
#   --pool-from D  build nothing: evaluate the pools an earlier run left in D/PLATFORM/pool
#                  (with an empty --store this re-measures the models only, e.g. on a quiet
#                  machine, against predictors that stay fixed)
#   --table        measure nothing: print the README table (one row per finished platform under
#                  --out, or per PLATFORM given) from the build.out / evaluate.out files there
# Per platform: build.yaml and evaluate.yaml as run, build.out / evaluate.out (the tables),
# pool/ (the predictors), report/ (report.md, models.csv, kernels per space), summary.md.
# Interrupted runs resume from the store. Smaller counts give a quick, clearly labelled figure.
set -euo pipefail
source "$(dirname "$0")/common.sh"
bench_name=accuracy
bench_cmdline=$(bench_cmdline_of "$0" "$@")
store= count= epochs= models= calibrate=0 out=bench/results/accuracy platforms=() table=0 pool_from=
while [ $# -gt 0 ]; do
    case $1 in
    -h|--help) bench_usage "$0"; exit 0 ;;
    --store) store=${2:-}; shift 2 || bench_die "--store needs a file" ;;
    --count) count=${2:-}; shift 2 || bench_die "--count needs a number" ;;
    --epochs) epochs=${2:-}; shift 2 || bench_die "--epochs needs a number" ;;
    --models) models=${2:-}; shift 2 || bench_die "--models needs a number" ;;
    --calibrate) calibrate=${2:-}; shift 2 || bench_die "--calibrate needs a number" ;;
    --out) out=${2:-}; shift 2 || bench_die "--out needs a directory" ;;
    --pool-from) pool_from=${2:-}; shift 2 || bench_die "--pool-from needs a directory" ;;
    --table) table=1; shift ;;
    -*) bench_die "unknown option '$1' (see --help)" ;;
    *) platforms+=("$1"); shift ;;
    esac
done
for v in "$count" "$epochs" "$models" "$calibrate"; do
    case $v in *[!0-9]*) bench_die "counts are positive integers, not '$v'" ;; esac
done
case $out in /*) ;; *) out=$bench_root/$out ;; esac
case $pool_from in ''|/*) ;; *) pool_from=$bench_root/$pool_from ;; esac
[ -z "$pool_from" ] || [ -z "$count$epochs" ] || bench_die "--pool-from builds nothing: --count/--epochs do not apply"
[ -z "$pool_from" ] || [ "$(realpath -m "$pool_from")" != "$(realpath -m "$out")" ] ||
    bench_die "--pool-from $pool_from is also --out: give another --out (the earlier run's files would be overwritten)"

# One row per platform directory: samples of the two major kernel types, their training
# seconds (350 epochs on the 80% not held out for validation, one core), their kernel-level
# +-10% on configs the predictors never saw, and the "all" rows of the raw and calibrated
# model tables (+-10% / +-5% / RMSPE). Reads the tables litepred printed, nothing else.
print_table() { # dir...
    echo "| platform | conv / dwconv configs | train conv / dwconv (s) | kernel +-10% conv / dwconv | models | raw +-10% / +-5% / RMSPE | calibrated +-10% / +-5% / RMSPE |"
    echo "|---|---|---|---|---:|---|---|"
    local d
    for d in "$@"; do
        [ -s "$d/evaluate.out" ] || { echo "accuracy: $d has no evaluate.out (not finished?)" >&2; continue; }
        local b=$d/build.out
        [ -s "$b" ] || b=/dev/null # --pool-from: no build here, its cells print empty
        awk -v p="$(basename "$d")" '
            FNR == 1 { file = (FILENAME ~ /build\.out$/ ? 1 : 2) }
            file == 1 && $1 == "conv-bn-relu" { cs = $2; ct = $4 }
            file == 1 && $1 == "dwconv-bn-relu" { ds = $2; dt = $4 }
            file == 2 && /^calibrated/ { cal = 1 }
            file == 2 && /^kernel level/ { kl = 1 }
            file == 2 && $1 == "all" && !cal { raw = $6 " / " $5 " / " $4; n = $2 }
            file == 2 && $1 == "all" && cal && !kl { calr = $7 " / " $6 " / " $5 }
            file == 2 && kl && $1 == "conv-bn-relu" { kc = $6 }
            file == 2 && kl && $1 == "dwconv-bn-relu" { kd = $6 }
            END { printf "| %s | %s / %s | %s / %s | %s / %s | %s | %s | %s |\n", p, cs, ds, ct, dt, kc, kd, n, raw,
                         (calr == "" ? "-" : calr) }' "$b" "$d/evaluate.out"
    done
}
if [ "$table" = 1 ]; then
    dirs=()
    for p in "${platforms[@]}"; do dirs+=("$out/$p"); done
    [ ${#dirs[@]} -gt 0 ] || for d in "$out"/*/; do dirs+=("${d%/}"); done
    print_table "${dirs[@]}"
    exit 0
fi
[ ${#platforms[@]} -gt 0 ] || bench_die "no PLATFORM given (see --help)"
for p in "${platforms[@]}"; do
    for kind in build evaluate; do
        [ -f "configs/pipelines/$kind-$p.yaml" ] || bench_die "no configs/pipelines/$kind-$p.yaml"
    done
    [ -z "$pool_from" ] || [ -d "$pool_from/$p/pool/$p" ] ||
        bench_die "--pool-from: no $pool_from/$p/pool/$p (predictors of an earlier run)"
done
bench_need_litepred
case $store in ''|/*) ;; *) store=$bench_root/$store ;; esac

# Rewrites one top-level "key: value" line of a pipeline file; dies if the key is missing,
# so a renamed key cannot silently leave the committed value in place.
set_key() { # file key value
    grep -q "^$2:" "$1" || bench_die "$1 has no '$2:' line"
    sed -i "s|^$2:.*|$2: $3|" "$1"
}

# Rewrites one "key: value" inside the sampler/predictor flow map or the evaluate block.
set_field() { # file key value
    grep -Eq "(^|[{ ,])$2: [0-9]+" "$1" || bench_die "$1 has no '$2:' field"
    sed -i -E "s/(^|[{ ,])$2: [0-9]+/\1$2: $3/" "$1"
}

run_platform() { # platform
    local p=$1 dir=$out/$1 db pool files f
    [ -z "$count$epochs$models" ] || dir=$out/$p-c${count:-file}-e${epochs:-file}-m${models:-file}
    mkdir -p "$dir"
    db=${store:-$dir/litepred.db}
    pool=${pool_from:+$pool_from/$p/pool}
    pool=${pool:-$dir/pool}
    files=("$dir/evaluate.yaml")
    cp "configs/pipelines/evaluate-$p.yaml" "$dir/evaluate.yaml"
    if [ -z "$pool_from" ]; then
        cp "configs/pipelines/build-$p.yaml" "$dir/build.yaml"
        files+=("$dir/build.yaml")
    fi
    for f in "${files[@]}"; do
        set_key "$f" store "$db"
        set_key "$f" pool "$pool"
    done
    set_key "$dir/evaluate.yaml" report "$dir/report"
    [ -z "$count" ] || set_field "$dir/build.yaml" count "$count"
    [ -z "$epochs" ] || set_field "$dir/build.yaml" epochs "$epochs"
    [ -z "$models" ] || set_field "$dir/evaluate.yaml" models "$models"
    [ "$calibrate" = 0 ] || sed -i "/^evaluate:/a\\  calibrate: $calibrate" "$dir/evaluate.yaml"
    {
        echo "# accuracy from scratch: $p"
        echo
        echo "command: $bench_cmdline"
        if [ -n "$pool_from" ]; then
            echo "pipelines: configs/pipelines/evaluate-$p.yaml (store, pool, report rewritten; evaluate.yaml here); nothing built: predictors from $pool_from/$p/pool"
        else
            echo "pipelines: configs/pipelines/build-$p.yaml, evaluate-$p.yaml (store, pool, report rewritten; build.yaml, evaluate.yaml here)"
        fi
        echo "store: $db"
        echo "date: $(date -u '+%F %T UTC'); cpu: $(bench_cpu_model)"
        echo "load before: $(bench_loadavg)"
    } > "$dir/summary.md"
    local t0=$SECONDS
    [ -n "$pool_from" ] || lp run "$dir/build.yaml" > "$dir/build.out" 2> >(tee "$dir/build.log" >&2)
    local t1=$SECONDS
    lp run "$dir/evaluate.yaml" > "$dir/evaluate.out" 2> >(tee "$dir/evaluate.log" >&2)
    {
        echo "load after: $(bench_loadavg); wall: build $((t1 - t0)) s, evaluate $((SECONDS - t1)) s"
        echo
        echo '```'
        [ -n "$pool_from" ] || cat "$dir/build.out"
        cat "$dir/evaluate.out"
        echo '```'
    } >> "$dir/summary.md"
    echo "accuracy: $p done: $dir/summary.md" >&2
}

for p in "${platforms[@]}"; do run_platform "$p"; done
