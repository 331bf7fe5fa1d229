#!/usr/bin/env bash
# Training time, prediction throughput (rows/s in batches of 1024 and one row at a time) and
# model file size of the predictor plugins, each at its defaults: mlp (LitePred's 16-layer
# MLP, 350 epochs) and rf (nn-Meter's forest: conv-bn-relu on CPU, 320 trees of depth 70,
# max_features 6). 2,000 training rows of conv-bn-relu features (the kernel plugin's own
# features() of NAS-like configs, train_bench.c's synthetic roofline latency) plus 1,000
# held-out rows; medians of 3 runs on ONE core. Prints a markdown table.
#
#   bash bench/predictors.sh [predictors_bench args...]   e.g. --runs 5 rf rf:trees=100
#
# Environment: BUILD (build dir, default build/), CPU (core to pin, default 1). The run is
# pinned with taskset, OpenBLAS gets one thread (OPENBLAS_NUM_THREADS=1), and on AVX-512
# CPUs OPENBLAS_CORETYPE=SkylakeX (OpenBLAS 0.3.21 does not recognise newer AVX-512 cores
# and falls back to its slow generic kernels; see bench/train.sh). A set OPENBLAS_CORETYPE
# is kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}

source "$root/bench/lib.sh"
bench_build "$root" "$build" lp_predictors_bench

source "$root/bench/openblas.sh"
cpu=${CPU:-1}
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(--rows 2000 --runs 3 mlp rf)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmd=(taskset -c "$cpu" "$build/bin/predictors_bench" --dir "$tmp" "${args[@]}")
echo "+ OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-} OPENBLAS_NUM_THREADS=1 ${cmd[*]}"
echo "  ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
"${cmd[@]}"
