# shellcheck shell=bash
# Sourced by the benchmarks that run litepred's code outside the litepred command line
# (train.sh, predictors.sh, vae.sh, inmodel.sh): OpenBLAS as the command line sets it for
# itself. One OpenBLAS thread; on AVX-512 CPUs OPENBLAS_CORETYPE=SkylakeX, because OpenBLAS
# 0.3.21 does not recognise newer AVX-512 cores and falls back to its generic Prescott
# kernels (sgemm ~4x slower). An OPENBLAS_CORETYPE already set is kept.
export OPENBLAS_NUM_THREADS=1
if [[ -z "${OPENBLAS_CORETYPE:-}" ]] && grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo &&
    grep -qw avx512dq /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
