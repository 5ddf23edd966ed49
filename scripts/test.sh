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

# Clones in different folders share one compiler cache: paths are hashed
# relative to the clone.
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j "$JOBS"

cd "$BUILD_DIR"
# shellcheck disable=SC2086
ctest --output-on-failure -j "$JOBS" ${CTEST_ARGS:-}
