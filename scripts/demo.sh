#!/usr/bin/env bash
# The demo: from a fresh Debian 12 machine to a finished sweep, its results
# table and two figures, in one command.
#
#   scripts/demo.sh
#
# Installs what is missing (scripts/setup.sh), builds the four binaries,
# starts a coordinator on ./var/demo and one local worker with two CPU slots,
# submits examples/quick.yaml, shows the watch view until the sweep ends,
# prints the results table, writes the two figures, stops the processes it
# started, and says where the database and the figures are. Running it again
# adds another sweep to the same database.
#
# Environment: BUILD_DIR (default build), JOBS (parallel build jobs, default
# the number of CPUs), DEMO_DIR (default var/demo), SWEEP_FILE (default
# examples/quick.yaml), SKIP_SETUP=1 to skip the package check.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
DEMO_DIR=${DEMO_DIR:-var/demo}
SWEEP_FILE=${SWEEP_FILE:-examples/quick.yaml}
BIN="$ROOT/$BUILD_DIR/bin"
say() { printf '\n== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- packages
if [ -z "${SKIP_SETUP:-}" ]; then
  say "checking packages (scripts/setup.sh)"
  bash scripts/setup.sh
fi

# ------------------------------------------------------------------- build
say "building into $BUILD_DIR (coordinator, worker, trainer, CLI)"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$JOBS" \
  --target switchyard-coordinator switchyard-worker switchyard-train switchyard

# --------------------------------------------------------------- processes
mkdir -p "$DEMO_DIR/figures"
DEMO_DIR=$(cd "$DEMO_DIR" && pwd)
LOGS="$DEMO_DIR/logs"
mkdir -p "$LOGS"
COORD_PID=""
WORKER_PID=""

# Stops a process of ours that an interrupted earlier run left behind: only
# the pid in our pid file, and only if it still runs one of our binaries.
stop_stale() {
  local file=$1 binary=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$binary" ]; then
    echo "stopping $(basename "$binary") (pid $pid) left by an earlier run" >&2
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop_all() {
  # The worker first: it drains (its trainers stop) and says goodbye.
  for pid in $WORKER_PID $COORD_PID; do
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -f "$DEMO_DIR/worker.pid" "$DEMO_DIR/coordinator.pid"
  WORKER_PID=""
  COORD_PID=""
}
trap stop_all EXIT
trap 'echo >&2; echo "interrupted: stopping the coordinator and the worker" >&2; exit 130' INT TERM

stop_stale "$DEMO_DIR/worker.pid" "$BIN/switchyard-worker"
stop_stale "$DEMO_DIR/coordinator.pid" "$BIN/switchyard-coordinator"

say "starting a coordinator on $DEMO_DIR"
"$BIN/switchyard-coordinator" --data-dir "$DEMO_DIR" --listen 127.0.0.1:0 \
  >"$LOGS/coordinator.out" 2>"$LOGS/coordinator.log" &
COORD_PID=$!
echo "$COORD_PID" >"$DEMO_DIR/coordinator.pid"
ADDRESS=""
for _ in $(seq 1 200); do
  ADDRESS=$(sed -n 's/^listening on //p' "$LOGS/coordinator.out" | head -1)
  [ -n "$ADDRESS" ] && break
  kill -0 "$COORD_PID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$ADDRESS" ]; then
  echo "the coordinator did not start; its log:" >&2
  tail -n 20 "$LOGS/coordinator.log" >&2
  exit 1
fi
echo "coordinator listening on $ADDRESS (log: $LOGS/coordinator.log)" >&2

say "starting one worker with two CPU slots"
"$BIN/switchyard-worker" --coordinator "$ADDRESS" --token-file "$DEMO_DIR/worker.token" \
  --devices cpu --slots-per-device 2 --threads-per-slot 1 --work-dir "$DEMO_DIR/worker" \
  --name demo-worker >"$LOGS/worker.out" 2>"$LOGS/worker.log" &
WORKER_PID=$!
echo "$WORKER_PID" >"$DEMO_DIR/worker.pid"
echo "worker pid $WORKER_PID (log: $LOGS/worker.log)" >&2

# The CLI finds the coordinator and its token through the environment.
export SWITCHYARD_COORDINATOR="$ADDRESS"
SWITCHYARD_TOKEN=$(cat "$DEMO_DIR/client.token")
export SWITCHYARD_TOKEN
sy() { "$BIN/switchyard" "$@"; }

# ------------------------------------------------------------------- sweep
say "submitting $SWEEP_FILE"
sy submit "$SWEEP_FILE" --dry-run
SWEEP=$(sy submit "$SWEEP_FILE")
START=$SECONDS

say "watching sweep $SWEEP (Ctrl-C stops the demo; \`switchyard watch $SWEEP\` follows it from anywhere)"
watch_code=0
sy watch "$SWEEP" || watch_code=$?
ELAPSED=$((SECONDS - START))
if [ "$watch_code" -ne 0 ]; then
  echo "the sweep ended with jobs that did not succeed (exit $watch_code); see: switchyard jobs $SWEEP, switchyard why JOB" >&2
fi

say "results of sweep $SWEEP: final accuracy per model, attention and task set (mean, sd and n over seeds)"
sy results "$SWEEP"

say "figures"
CURVES="$DEMO_DIR/figures/sweep-$SWEEP-curves.svg"
BARS="$DEMO_DIR/figures/sweep-$SWEEP-bars.svg"
# Not fatal: with no succeeded job there is nothing to draw, and the
# processes must still be stopped.
sy figure "$SWEEP" --kind curves --out "$CURVES" || true
sy figure "$SWEEP" --kind bars --out "$BARS" || true
sy export "$SWEEP" --out "$DEMO_DIR/figures/sweep-$SWEEP-metrics.csv" || true

say "stopping the worker and the coordinator"
stop_all

cat >&2 <<TEXT

== done: sweep $SWEEP took ${ELAPSED}s
   database:  $DEMO_DIR/switchyard.db   (sqlite3 $DEMO_DIR/switchyard.db 'SELECT * FROM job_final_metrics')
   figures:   $CURVES
              $BARS
   metrics:   $DEMO_DIR/figures/sweep-$SWEEP-metrics.csv
   logs:      $LOGS
   Start the coordinator again with:
     $BIN/switchyard-coordinator --data-dir $DEMO_DIR --listen 127.0.0.1:50051
   and open the dashboard on the demo's database (docs/ui.md) with:
     $BIN/switchyard --coordinator 127.0.0.1:50051 --token-file $DEMO_DIR/client.token ui
   then browse http://127.0.0.1:8080/sweeps/$SWEEP
TEXT
exit "$watch_code"
