#!/usr/bin/env bash
# Configures and builds one tree: scripts/build.sh BUILD_DIR [extra cmake args...]
set -euo pipefail
dir=${1:?usage: scripts/build.sh BUILD_DIR [cmake args...]}
shift
cmake -S "$(dirname "$0")/.." -B "$dir" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
