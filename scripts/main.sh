#!/usr/bin/env bash
# The main job with embedded defaults: install, build, then adapt the committed knowledge
# pool (configs/pool/, built on xnnpack and onednn platforms) to this machine's native
# engine (configs/pipelines/adapt-native.yaml), evaluate on models of the six NAS spaces,
# and write the report. Measurements go to litepred.db: a re-run (or a run after a crash)
# reuses every stored measurement.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)
bash scripts/deps.sh
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
./build/bin/litepred run configs/pipelines/adapt-native.yaml
./build/bin/litepred report reports/main
echo "main job: $(( $(date +%s) - start )) s"
