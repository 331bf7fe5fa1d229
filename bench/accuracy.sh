#!/usr/bin/env bash
# Accuracy of predictors built from scratch on one platform: runs a build pipeline then an
# evaluate pipeline, both generated from the arguments, and keeps their output.
#   bash bench/accuracy.sh PLATFORM [COUNT] [EPOCHS] [MODELS]
# Defaults are the issue's setting (2,000 configs per kernel type, 350 epochs, 100 models per
# space); smaller values give a quick, clearly labelled smoke figure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
platform=${1:?usage: bench/accuracy.sh PLATFORM [COUNT] [EPOCHS] [MODELS]}
count=${2:-2000}; epochs=${3:-350}; models=${4:-100}
lp=${LITEPRED:-$root/build/bin/litepred}
out=$root/bench/results/accuracy-$platform-c$count-e$epochs-m$models
mkdir -p "$out"
cd "$out"
cat > build.yaml <<YAML
pipeline: build
platform: $platform
store: litepred.db
pool: pool
kernels: [conv-bn-relu, dwconv-bn-relu, fc, se, hswish, add, global-avgpool,
          maxpool, avgpool, layernorm, linear, mhsa, gelu]
sampler: {plugin: prior, unique: true, count: $count, seed: 7, prior_models: 200}
predictor: {plugin: mlp, epochs: $epochs}
YAML
cat > evaluate.yaml <<YAML
pipeline: evaluate
platform: $platform
store: litepred.db
pool: pool
evaluate:
  spaces: [ofa-mbv3-w1.0, ofa-proxyless, ofa-resnet, bignas, fbnetv3, autoformer-tiny]
  models: $models
  seed: 11
report: report
YAML
{
  echo "# accuracy: $platform, $count configs per kernel type, $epochs epochs, $models models per space"
  echo
  echo "command: bash bench/accuracy.sh $platform $count $epochs $models"
  echo "date: $(date -u '+%F %T UTC'); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo '```'
  "$lp" --quiet run build.yaml
  "$lp" --quiet run evaluate.yaml
  echo '```'
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee summary.md
