#!/usr/bin/env bash
# How well the vae sampler learns the config distributions of conv-bn-relu and
# dwconv-bn-relu (LitePred's check of its VAE): the prior of 100 models per NAS space is
# split by distinct config into train (80%) and held-out test (20%); the VAE is trained on
# train through the plugin with its default options and generates 10,000 configs; the
# bench prints 2-D histogram KLs (lp_kl2d; and LitePred's own check, ported) of
# KL(test || VAE) next to KL(test || train), KL(test || random) and KL(half A || half B),
# two random halves of the real configs (LitePred's yardstick), plus training time and the
# training record. A second pass draws the latents from the posterior instead (draw=
# posterior), loading the VAEs the first pass cached (its setup time is the load time).
#
#   bash bench/vae.sh [vae_bench args...]     e.g. --options epochs=100 --models 200
#
# Environment: BUILD (build dir, default build/), CPU (core to pin, default the last one),
# OUT (summary directory, default bench/results/vae). One core, OpenBLAS on one thread and,
# on AVX-512 CPUs, OPENBLAS_CORETYPE=SkylakeX as the litepred command line uses (OpenBLAS
# 0.3.21 otherwise falls back to its generic kernels, ~2x slower here). The VAEs are cached
# in a fresh temporary directory, so the first pass always trains.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
out=${OUT:-$root/bench/results/vae}

source "$root/bench/lib.sh"
bench_build "$root" "$build" lp_vae_bench

source "$root/bench/openblas.sh"
cpu=${CPU:-$(($(nproc) - 1))}
cache=$(mktemp -d /tmp/litepred-vae-bench-XXXXXX)
trap 'rm -rf "$cache"' EXIT
mkdir -p "$out"

cmd=(taskset -c "$cpu" "$build/bin/vae_bench" --kernel conv-bn-relu --kernel dwconv-bn-relu
     --models 100 --samples 10000 --cache "$cache")
{
    echo "# vae sampler: KL(test || VAE) against the real configs' own spread"
    echo
    echo '```'
    echo "bash bench/vae.sh $*"
    echo "+ OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-} OPENBLAS_NUM_THREADS=1 ${cmd[*]} $*"
    echo '```'
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "# pass 1: default options (trains; z ~ N(0, I) as LitePred)"
    echo
    "${cmd[@]}" "$@"
    echo
    echo "# pass 2: draw=posterior (loads the cached VAEs)"
    echo
    "${cmd[@]}" "$@" --options draw=posterior
} | tee "$out/summary.md"
