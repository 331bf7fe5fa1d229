#!/usr/bin/env bash
# The whole test suite: install, build, run every test in a normal build and
# again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh

echo "== normal (Release) build =="
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release  # the main job's flags
(cd build && ctest --output-on-failure --timeout 600)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DLP_SANITIZE=ON
# OpenBLAS's own threads are not instrumented; leaks inside it are not ours.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --timeout 900)

echo "== configs =="
find configs -name '*.yaml' | sort | xargs -r ./build/bin/litepred check >/dev/null
echo "all configs pass litepred check"
