#!/usr/bin/env bash
# Seconds to train the default mlp predictor (LitePred's 16-linear-layer MLP, 350 epochs,
# batch 32, Adam, MAPE) on 2,000 rows of conv-bn-relu features (the kernel plugin's own
# features() of NAS-like configs; a synthetic roofline latency), median of 3 runs on ONE
# core; then prediction throughput in batches of 1024 and one row at a time.
#
#   bash bench/train.sh [train_bench args...]     e.g. --runs 5 --options seed=3,epochs=100
#
# Environment: BUILD (build dir, default build/), CPU (core to pin, default the last one).
# The run is pinned to one core with taskset, OpenBLAS gets one thread
# (OPENBLAS_NUM_THREADS=1; the trainer also calls openblas_set_num_threads(1)), and on
# AVX-512 CPUs OPENBLAS_CORETYPE=SkylakeX: OpenBLAS 0.3.21 does not recognise newer AVX-512
# cores and falls back to its generic Prescott kernels (sgemm ~4x slower), as the litepred
# command line does for itself. OPENBLAS_CORETYPE already set is kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}

source "$root/bench/lib.sh"
bench_build "$root" "$build" lp_train_bench

source "$root/bench/openblas.sh"
cpu=${CPU:-$(($(nproc) - 1))}
cmd=(taskset -c "$cpu" "$build/bin/train_bench" --rows 2000 --runs 3 "$@")
echo "+ OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-} OPENBLAS_NUM_THREADS=1 ${cmd[*]}"
echo "  ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
"${cmd[@]}"
