#!/usr/bin/env bash
# The main job with embedded defaults: install, build, then run litepred on this machine.
# Today the main job lists the plugins and validates every shipped config file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
./build/bin/litepred plugins
find configs -name '*.yaml' | sort | xargs -r ./build/bin/litepred check
