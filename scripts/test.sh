#!/usr/bin/env bash
# Builds Switchyard and runs every test: set-up (packages), configure, build,
# ctest. Prints ctest's summary; exits non-zero when anything fails.
#   scripts/test.sh                 everything (what CI runs)
#   BUILD_DIR=build-x scripts/test.sh
#   CTEST_ARGS="-L unit" scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

bash scripts/setup.sh

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j "$JOBS"

cd "$BUILD_DIR"
# shellcheck disable=SC2086
ctest --output-on-failure -j "$JOBS" ${CTEST_ARGS:-}
