#!/usr/bin/env bash
# A long libFuzzer run of one harness of tests/fuzz (ctest runs each for a few
# seconds only). Builds the harnesses with clang++ in build-fuzz/ (the
# standalone project tests/fuzz/standalone), then fuzzes from the seed corpus.
#
#   scripts/fuzz.sh list                    the harnesses
#   scripts/fuzz.sh HARNESS [SECONDS]       fuzz for SECONDS (default 600)
#   scripts/fuzz.sh HARNESS merge           fold var/fuzz/HARNESS/corpus's
#                                           new coverage into the seed corpus
#
# New inputs go to var/fuzz/HARNESS/corpus; a crash, leak or timeout is saved
# as var/fuzz/HARNESS/crash-* (replay: build-fuzz/HARNESS FILE). Extra
# libFuzzer flags come from FUZZ_FLAGS, e.g. FUZZ_FLAGS=-jobs=4. Needs clang
# and libclang-rt-14-dev (scripts/setup.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
HARNESSES=(sweep_file_fuzzer submit_sweep_fuzzer worker_requests_fuzzer job_config_fuzzer)

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 1
}
[ $# -ge 1 ] || usage
if [ "$1" = list ]; then
  printf '%s\n' "${HARNESSES[@]}"
  exit 0
fi
harness=$1
[[ " ${HARNESSES[*]} " == *" $harness "* ]] || {
  echo "fuzz.sh: unknown harness '$harness'; known: ${HARNESSES[*]}" >&2
  exit 1
}
mode=${2:-600}

CXX_BIN=$(command -v clang++ || command -v clang++-14 || true)
[ -n "$CXX_BIN" ] || { echo "fuzz.sh: no clang++; run scripts/setup.sh" >&2; exit 1; }
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT/tests/fuzz/standalone" -B "$BUILD" -G Ninja \
    -DCMAKE_CXX_COMPILER="$CXX_BIN" -DSWITCHYARD_SOURCE_DIR="$ROOT" >/dev/null
fi
cmake --build "$BUILD" --target "$harness"

SEEDS="$ROOT/tests/fuzz/corpus/$harness"
OUT="$ROOT/var/fuzz/$harness"
mkdir -p "$OUT/corpus"
if [ "$mode" = merge ]; then
  # Keeps only inputs that add coverage to what the seeds already reach.
  "$BUILD/$harness" -merge=1 "$SEEDS" "$OUT/corpus"
  echo "fuzz.sh: merged; review and commit tests/fuzz/corpus/$harness" >&2
  exit 0
fi
[[ "$mode" =~ ^[0-9]+$ ]] || usage
# shellcheck disable=SC2086
exec "$BUILD/$harness" "$OUT/corpus" "$SEEDS" -max_total_time="$mode" -timeout=25 \
  -rss_limit_mb=4096 -max_len=65536 -artifact_prefix="$OUT/" -print_final_stats=1 ${FUZZ_FLAGS:-}
