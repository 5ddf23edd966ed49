#!/usr/bin/env bash
# Whose fault is it? A worker on a GPU node (a stand-in nvidia-smi on PATH
# lists two GPUs) whose trainer was built against a CPU-only LibTorch (the
# switchyard-train of this build):
#   1. with --devices auto it offers the CPU only, and says why;
#   2. with --devices cuda:0 it refuses to start, and says why;
#   3. made to offer cuda:0 anyway (--probe_trainer=false, a testing aid), its
#      attempts end with environment errors: the job goes back to the queue
#      with its retry budget intact, and after 3 in a row the worker is
#      quarantined, which `switchyard workers` and `switchyard why` show;
#   4. an operator lifts the quarantine; a healthy worker runs the job.
# (docs/worker.md, "Whose fault is it".)
#   fault_charging_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/../cli/lib.sh"
DIR="$SOURCE_DIR/tests/e2e/fault"

if ! "$BIN_DIR/switchyard-train" --probe | grep -q '"cuda_available":false'; then
  echo "skipped: this switchyard-train has CUDA; the test needs a CPU-only build"
  exit 0
fi

# The stand-in nvidia-smi: two GPUs, and a banner with the CUDA version.
mkdir -p "$WORK/bin"
cat >"$WORK/bin/nvidia-smi" <<'SMI'
#!/bin/sh
case "$*" in
  *--query-gpu*) printf '0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n' ;;
  *) echo "| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: 12.2     |" ;;
esac
SMI
chmod +x "$WORK/bin/nvidia-smi"
export PATH="$WORK/bin:$PATH"

start_coordinator

worker() {  # worker NAME ARGS...: a worker on this "GPU node" (exec: $! is the worker)
  local name=$1
  shift
  exec "$BIN_DIR/switchyard-worker" --coordinator "$COORD_ADDR" --token-file "$DATA_DIR/worker.token" \
    --work-dir "$WORK/$name" --name "$name" --threads-per-slot 1 "$@"
}

stop_worker() {  # stop_worker PID: drain it and wait
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# 1. --devices auto: the GPUs are found, but only the CPU is offered.
worker auto --devices auto >"$WORK/auto.out" 2>"$WORK/auto.log" &
WORKER_PID=$!
for _ in $(seq 1 100); do
  [ "$(db "SELECT COUNT(*) FROM workers WHERE name = 'auto'")" = 1 ] && break
  sleep 0.1
done
expect_exit 0 "workers (auto)" -- sy workers --output csv
grep -q '^[0-9]*,auto,.*,cpux1,' "$WORK/out" ||
  fail "auto: the worker does not offer the CPU alone: $(cat "$WORK/out")"
expect_grep "auto: why" "found 2 GPU(s) (cuda:0, cuda:1), but the trainer at" "$WORK/auto.log"
expect_grep "auto: why" "was built without CUDA (LibTorch" "$WORK/auto.log"
stop_worker "$WORKER_PID"
WORKER_PID=""
pass "--devices auto on a GPU node with a CPU-only trainer offers the CPU, and says why"

# 2. --devices cuda:0: refused at start, with the reason.
expect_exit 2 "--devices cuda:0" -- timeout 60 \
  "$BIN_DIR/switchyard-worker" --coordinator "$COORD_ADDR" --token-file "$DATA_DIR/worker.token" \
  --work-dir "$WORK/refused" --name refused --devices cuda:0
expect_grep "--devices cuda:0" "switchyard-worker: --devices cuda:0: the trainer at $BIN_DIR/switchyard-train was built without CUDA (LibTorch" "$WORK/err"
expect_grep "--devices cuda:0" "cuda_available=false)" "$WORK/err"
[ "$(db "SELECT COUNT(*) FROM workers WHERE name = 'refused'")" = 0 ] ||
  fail "--devices cuda:0: the refused worker registered"
pass "--devices cuda:0 with a CPU-only trainer refuses to start, and says why"

# 3. A worker that offers cuda:0 all the same: every attempt is an environment
#    error, charged to the worker, until it is quarantined.
expect_exit 0 "submit" -- sy submit "$DIR/one.yaml"
SWEEP=$(cat "$WORK/out")
JOB=$(db "SELECT id FROM jobs WHERE sweep_id = $SWEEP")
worker broken --devices cuda:0 --probe_trainer=false >"$WORK/broken.out" 2>"$WORK/worker.log" &
WORKER_PID=$!
BROKEN=""
for _ in $(seq 1 600); do
  BROKEN=$(db "SELECT id FROM workers WHERE name = 'broken' AND quarantined_at IS NOT NULL")
  [ -n "$BROKEN" ] && break
  sleep 0.1
done
[ -n "$BROKEN" ] || fail "the broken worker was not quarantined: $(tail -n 5 "$WORK/worker.log")"
[ "$(db "SELECT COUNT(*) FROM attempts WHERE job_id = $JOB AND outcome = 8")" = 3 ] ||
  fail "want 3 environment_error attempts: $(db "SELECT number, outcome, cause FROM attempts WHERE job_id = $JOB")"
[ "$(db "SELECT state || ',' || failures FROM jobs WHERE id = $JOB")" = "1,0" ] ||
  fail "the job is not pending with its budget intact: $(db "SELECT state, failures FROM jobs WHERE id = $JOB")"
grep -q "CUDA is not available" <<<"$(db "SELECT cause FROM attempts WHERE job_id = $JOB")" ||
  fail "the attempts' cause does not say why"
sleep 2  # the worker keeps asking; the coordinator keeps refusing
[ "$(db "SELECT COUNT(*) FROM attempts WHERE job_id = $JOB")" = 3 ] ||
  fail "a quarantined worker claimed again"
expect_exit 0 "workers (quarantined)" -- sy workers
grep -q "^ *$BROKEN  *broken .* quarantined " "$WORK/out" ||
  fail "workers: the broken worker is not shown quarantined: $(cat "$WORK/out")"
expect_exit 0 "workers (quarantined, csv)" -- sy workers --output csv
expect_grep "workers" ",3,\"this worker's environment failed (trainer exit code 5): switchyard-train: device: cuda:0 requested, but CUDA is not available" "$WORK/out"
expect_exit 0 "why" -- sy why "$JOB"
expect_grep "why" "0 counted against the retry budget" "$WORK/out"
expect_grep "why" "3 attempts went back to the queue because the worker was broken, not the job" "$WORK/out"
expect_grep "why" "environment_error" "$WORK/out"
expect_grep "why" "1 worker is quarantined" "$WORK/out"
pass "environment errors: job pending, budget intact, worker quarantined and shown"

# 4. The operator lifts the quarantine (the broken worker goes first, so it
#    cannot take the job again); a healthy CPU worker runs the job.
stop_worker "$WORKER_PID"
WORKER_PID=""
expect_exit 0 "unquarantine" -- sy workers --unquarantine "$BROKEN"
expect_grep "unquarantine" "worker $BROKEN (broken) may claim jobs again" "$WORK/out"
[ -z "$(db "SELECT quarantined_at FROM workers WHERE id = $BROKEN")" ] ||
  fail "unquarantine: the worker is still quarantined"
worker healthy --devices cpu >"$WORK/healthy.out" 2>"$WORK/worker.log" &
WORKER_PID=$!
wait_for_sql "SELECT COUNT(*) FROM jobs WHERE id = $JOB AND state = 3" 1 120 &&
  pass "quarantine lifted; a healthy worker ran the job to success"

finish
