# Shared helpers of the CLI end-to-end tests: start a real coordinator and a
# real worker on loopback ports of their own, run `switchyard` against them,
# check exit codes and output, and stop everything on exit.
#
# A test script sets BIN_DIR (the folder of switchyard, switchyard-coordinator,
# switchyard-worker and switchyard-train) and sources this file:
#   BIN_DIR=$1; . "$(dirname "$0")/lib.sh"
# Every helper fails the test with a message naming what was expected; the
# script ends with `finish`, which exits 1 when anything failed.
set -u

SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-cli-e2e.XXXXXX")
SWITCHYARD="$BIN_DIR/switchyard"
COORD_PID=""
WORKER_PID=""
COORD_ADDR=""
DATA_DIR="$WORK/coordinator"
failures=0

cleanup() {
  # Only the processes this test started, by their ids.
  for pid in $WORKER_PID $COORD_PID; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in $WORKER_PID $COORD_PID; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  if [ "$failures" -gt 0 ] && [ -z "${KEEP_WORK:-}" ]; then
    echo "--- coordinator log (tail)"; tail -n 30 "$WORK/coordinator.log" 2>/dev/null
    echo "--- worker log (tail)"; tail -n 30 "$WORK/worker.log" 2>/dev/null
  fi
  [ -n "${KEEP_WORK:-}" ] && echo "work folder kept: $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

finish() {
  if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
  exit 0
}

# Starts a coordinator on DATA_DIR and a free port; sets COORD_PID, COORD_ADDR.
start_coordinator() {
  "$BIN_DIR/switchyard-coordinator" --data-dir "$DATA_DIR" --listen 127.0.0.1:0 \
    --lease-seconds 10 --heartbeat-seconds 1 --sync normal "$@" \
    >"$WORK/coordinator.out" 2>"$WORK/coordinator.log" &
  COORD_PID=$!
  for _ in $(seq 1 200); do
    COORD_ADDR=$(sed -n 's/^listening on //p' "$WORK/coordinator.out" | head -1)
    [ -n "$COORD_ADDR" ] && break
    kill -0 "$COORD_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$COORD_ADDR" ]; then
    fail "the coordinator did not start: $(tail -n 5 "$WORK/coordinator.log")"
    finish
  fi
}

# Starts one worker with two CPU slots of one thread each; sets WORKER_PID.
start_worker() {
  "$BIN_DIR/switchyard-worker" --coordinator "$COORD_ADDR" --token-file "$DATA_DIR/worker.token" \
    --devices cpu --slots-per-device 2 --threads-per-slot 1 --work-dir "$WORK/worker" \
    --name e2e-worker "$@" >"$WORK/worker.out" 2>"$WORK/worker.log" &
  WORKER_PID=$!
}

# switchyard against this test's coordinator, with the client token.
sy() {
  "$SWITCHYARD" --coordinator "$COORD_ADDR" --token-file "$DATA_DIR/client.token" "$@"
}

# submit_and_watch FILE CODE: submits the sweep FILE, sets SWEEP to its id,
# and watches it to the end (300 s at most), expecting watch's exit code CODE
# (0 all succeeded, 4 some failed). watch's output is in $WORK/out.
submit_and_watch() {
  expect_exit 0 "submit $(basename "$1")" -- sy submit "$1"
  SWEEP=$(cat "$WORK/out")
  expect_exit "$2" "watch sweep $SWEEP" -- timeout 300 "$SWITCHYARD" --coordinator "$COORD_ADDR" \
    --token-file "$DATA_DIR/client.token" watch "$SWEEP"
}

# expect_exit CODE WHAT -- COMMAND...: runs COMMAND with stdout in $WORK/out
# and stderr in $WORK/err, and checks its exit code.
expect_exit() {
  local want=$1 what=$2
  shift 3
  "$@" >"$WORK/out" 2>"$WORK/err"
  local code=$?
  if [ "$code" != "$want" ]; then
    fail "$what: exit $code, want $want; stderr: $(head -c 600 "$WORK/err")"
    return 1
  fi
  return 0
}

# expect_grep WHAT PATTERN FILE: FILE holds a line matching PATTERN (fixed string).
expect_grep() {
  if ! grep -qF -- "$2" "$3"; then
    fail "$1: '$2' not found in: $(head -c 600 "$3")"
    return 1
  fi
  return 0
}

# Waits until SQL (a count) on the database is at least N, up to SECONDS.
wait_for_sql() {
  local sql=$1 want=$2 seconds=$3
  local deadline=$((SECONDS + seconds)) got=""
  while [ $SECONDS -lt $deadline ]; do
    got=$(sqlite3 -cmd ".timeout 5000" "$DATA_DIR/switchyard.db" "$sql" 2>/dev/null)
    [ -n "$got" ] && [ "$got" -ge "$want" ] && return 0
    sleep 0.5
  done
  fail "waited ${seconds}s for '$sql' >= $want; last value '$got'"
  return 1
}

db() { sqlite3 -cmd ".timeout 5000" "$DATA_DIR/switchyard.db" "$@"; }

# Debian's python3 (its xml and csv modules), not whichever comes first on PATH.
PYTHON3=/usr/bin/python3
[ -x "$PYTHON3" ] || PYTHON3=python3

# The number of data records of a CSV file (a quoted field may span lines).
csv_rows() {
  "$PYTHON3" -c 'import csv, sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=""))))' "$1"
}
