#!/usr/bin/env bash
# A short libFuzzer run for ctest: replays every seed of the harness's corpus,
# then mutates for SECONDS. New inputs go to a scratch folder (the seed corpus
# in the repository is only read). On a crash, leak, timeout or failed
# FUZZ_CHECK it exits 1 and prints the input as base64, so that a CI log
# alone reproduces it:  base64 -d > crash && FUZZER crash
#   run_fuzzer.sh FUZZER SEED_CORPUS_DIR [SECONDS]
set -u
fuzzer=$1
seeds=$2
seconds=${3:-5}
if [ ! -x "$fuzzer" ]; then
  echo "run_fuzzer: $fuzzer is missing; build the switchyard_fuzz target" >&2
  exit 1
fi
if [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
  echo "run_fuzzer: the seed corpus $seeds is empty" >&2
  exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
"$fuzzer" "$work/corpus" "$seeds" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
  -max_len=16384 -seed=1 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
  >"$work/log" 2>&1
rc=$?
grep -E "^(INFO: seed corpus|#[0-9]+\s+(INITED|DONE))|^stat::number_of_executed_units" "$work/log"
if [ "$rc" -ne 0 ]; then
  echo "run_fuzzer: $(basename "$fuzzer") failed (exit $rc)"
  tail -n 60 "$work/log"
  for artifact in "$work"/artifacts/*; do
    [ -f "$artifact" ] || continue
    echo "--- $(basename "$artifact") ($(stat -c %s "$artifact") bytes), base64:"
    base64 -w 0 "$artifact"
    echo
  done
  exit 1
fi
echo "run_fuzzer: $(basename "$fuzzer") ran ${seconds}s without a finding"
