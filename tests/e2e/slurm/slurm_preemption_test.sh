#!/usr/bin/env bash
# The whole Slurm story with the real binaries, on a real one-node Slurm
# (slurm_cluster.sh):
#   1. a coordinator; two worker jobs submitted with the project's own
#      deploy/slurm/submit-workers.sh and worker.sbatch through sbatch;
#   2. a small sweep submitted with the CLI;
#   3. in the middle of a job, scancel of the worker job that runs it; an
#      online backup of the database (sqlite3 .backup and VACUUM INTO) while
#      the other worker writes;
#   4. the sweep finishes (switchyard watch): the scancelled worker drained
#      and exited 0; its attempt ended *preempted* (not lost) after uploading
#      a checkpoint; the job resumed on the other worker from exactly that
#      checkpoint and succeeded;
#   5. the same with SIGKILL and no drain at all (to every process of the
#      worker's Slurm job, as slurmd does once KillWait or GraceTime is
#      over): a third worker job, a second sweep, the worker running its
#      job killed; the attempt ends *lost* when its lease expires and the
#      job resumes on another worker from its newest stored checkpoint;
#   6. the audit of the database: every job succeeded once, no two attempts
#      of a job ran at once, every metric point is there once (one per epoch
#      and name), none missing and none doubled.
# It stops every daemon it started.
#   slurm_preemption_test.sh BIN_DIR
# BIN_DIR holds switchyard-coordinator, switchyard-worker, switchyard-train
# and switchyard. Exit 77 (skipped) when one is missing or when not root.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CLUSTER=$HERE/slurm_cluster.sh
BIN=${1:?usage: $0 BIN_DIR}
BIN=$(cd "$BIN" 2>/dev/null && pwd) || { echo "SKIP: no folder $1"; exit 77; }
missing=""
for prog in switchyard-coordinator switchyard-worker switchyard-train switchyard; do
  [ -x "$BIN/$prog" ] || missing="$missing $prog"
done
if [ -n "$missing" ]; then
  echo "SKIP: not built in $BIN:$missing (the scenario needs the coordinator, worker, trainer and CLI)"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the Slurm test runs its daemons as root"
  exit 77
fi
"$CLUSTER" install || { echo "FAIL: could not install slurm-wlm and munge"; exit 1; }
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 is missing (scripts/setup.sh)"; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

WORK=$(mktemp -d /tmp/switchyard-slurm-preemption.XXXXXX)
chmod 755 "$WORK"
COORD_PID=""
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
started=$SECONDS
say() { echo "[$((SECONDS - started))s] $*"; }
cleanup() {
  # Workers first (they drain within KillWait), then the coordinator, then Slurm.
  "$CLUSTER" stop "$WORK/cluster" >/dev/null 2>&1
  if [ -n "$COORD_PID" ] && kill -0 "$COORD_PID" 2>/dev/null; then
    kill -TERM "$COORD_PID"
    for _ in $(seq 1 100); do kill -0 "$COORD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$COORD_PID" 2>/dev/null
  fi
  if [ $failures -ne 0 ]; then
    echo "--- logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
dump_logs() {
  local f
  for f in "$WORK"/coordinator.err "$WORK"/worker-*.out; do
    [ -f "$f" ] && { echo "--- tail $f"; tail -40 "$f"; }
  done
  echo "--- tail slurmctld.log"; tail -20 "$WORK/cluster/log/slurmctld.log" 2>/dev/null
}
die() { fail "$*"; dump_logs; exit 1; }

# --- 1. Slurm, the coordinator, two worker jobs.
SLURM_CLUSTER_CPUS=2 SLURM_CLUSTER_KILLWAIT=30 "$CLUSTER" start "$WORK/cluster" >/dev/null ||
  die "the Slurm cluster did not start"
# shellcheck disable=SC1091
. "$WORK/cluster/env.sh"
say "slurm up"

"$BIN/switchyard-coordinator" --data-dir "$WORK/coord" --listen 127.0.0.1:0 \
  --lease-seconds 10 --heartbeat-seconds 2 >"$WORK/coordinator.out" 2>"$WORK/coordinator.err" &
COORD_PID=$!
for _ in $(seq 1 200); do
  grep -q '^listening on ' "$WORK/coordinator.out" 2>/dev/null && break
  kill -0 "$COORD_PID" 2>/dev/null || break
  sleep 0.05
done
ADDRESS=$(sed -n 's/^listening on //p' "$WORK/coordinator.out" | head -1)
[ -n "$ADDRESS" ] || die "the coordinator did not start: $(cat "$WORK/coordinator.err")"
export SWITCHYARD_COORDINATOR=$ADDRESS
SWITCHYARD_TOKEN=$(cat "$WORK/coord/client.token")
export SWITCHYARD_TOKEN
cli() { "$BIN/switchyard" "$@"; }
say "coordinator on $ADDRESS"

# The drain must fit in KillWait (30 s) for scancel. The workers get the
# worker token from its file, not the client token from the environment.
submit_workers() {  # submit_workers N: prints the array job id
  SWITCHYARD_DRAIN_TIMEOUT=25 SWITCHYARD_WORK_ROOT="$WORK/scratch" SWITCHYARD_TOKEN="" \
    "$ROOT/deploy/slurm/submit-workers.sh" --token-file "$WORK/coord/worker.token" --bin-dir "$BIN" \
    --cpus 1 --slots 1 --output "$WORK/worker-%A_%a.out" "$1" "$ADDRESS"
}
ARRAY=$(submit_workers 2) || die "submit-workers.sh failed"
[ -n "$ARRAY" ] || die "submit-workers.sh printed no job id"
say "worker array $ARRAY"

# JSON helpers (the CLI's --output json: an array of objects keyed by column).
json() { "$PY" -c "import json,sys; rows=json.load(sys.stdin); $1"; }
q() { sqlite3 -separator ' ' "$WORK/coord/switchyard.db" "$1"; }

alive_workers() {  # alive_workers PREFIX: alive workers whose names start with PREFIX
  cli --output json workers 2>/dev/null |
    json "print(sum(1 for r in rows if str(r.get('name','')).startswith('$1') and r.get('state')=='alive'))"
}
wait_workers() {  # wait_workers PREFIX N
  local deadline=$((SECONDS + 90))
  while [ "$(alive_workers "$1")" != "$2" ]; do
    [ $SECONDS -lt $deadline ] || die "$2 Slurm worker(s) $1* did not register within 90 s: $(cli workers 2>&1; squeue)"
    sleep 1
  done
}
wait_gone() {  # wait_gone SLURM_JOB SECONDS
  local deadline=$((SECONDS + $2))
  while [ -n "$(squeue -h -j "$1" -o %A 2>/dev/null)" ]; do
    [ $SECONDS -lt $deadline ] || { fail "Slurm job $1 still there $2 s after scancel"; return 1; }
    sleep 1
  done
}
wait_workers "slurm-${ARRAY}_" 2
say "2 workers alive"

# Small sweeps, long enough to be caught in the middle of a job (about 30 s
# per job on one core here), with a checkpoint every 20 steps.
EPOCHS=8
STEPS_PER_EPOCH=120
submit_sweep() {  # submit_sweep NAME SEEDS: prints the sweep id
  cat >"$WORK/$1.yaml" <<EOF
name: $1
model: lstm
tasks: IARC
seed: [$2]
preset: small
epochs: $EPOCHS
steps_per_epoch: $STEPS_PER_EPOCH
batch_size: 32
lr: 0.003
eval_windows: 200
checkpoint_every: 20
EOF
  local out
  out=$(cli submit "$WORK/$1.yaml") || die "switchyard submit failed: $out"
  printf '%s\n' "$out" | grep -o '[0-9][0-9]*' | head -1
}

# pick_victim SWEEP: waits for a running job of SWEEP with at least one epoch
# stored; sets VICTIM_JOB, VICTIM_WORKER, VICTIM_TASK (its Slurm job, 12_0)
# and BEFORE_STEP (its newest stored checkpoint, read from the live file now
# because the coordinator prunes old checkpoint rows later).
pick_victim() {
  local sweep=$1 deadline=$((SECONDS + 240)) running counts job n
  VICTIM_JOB=""
  while [ -z "$VICTIM_JOB" ]; do
    [ $SECONDS -lt $deadline ] ||
      die "no job of sweep $sweep reached its first epoch within 240 s: $(cli jobs "$sweep" 2>&1)"
    running=$(cli --output json jobs "$sweep" --state running 2>/dev/null |
      json "print(' '.join(str(r['id']) for r in rows))")
    if [ -n "$running" ]; then
      # Points per job so far (export: sweep,job,model,attention,tasks,seed,name,step,value).
      counts=$(cli export "$sweep" --out - 2>/dev/null |
        awk -F, 'NR > 1 { n[$2]++ } END { for (j in n) print j, n[j] }')
      for job in $running; do
        n=$(printf '%s\n' "$counts" | awk -v j="$job" '$1 == j { print $2 }')
        if [ -n "$n" ] && [ "$n" -gt 0 ]; then VICTIM_JOB=$job; break; fi
      done
    fi
    [ -n "$VICTIM_JOB" ] || sleep 1
  done
  VICTIM_WORKER=$(cli --output json why "$VICTIM_JOB" | json "print(rows[-1]['worker'])")
  case $VICTIM_WORKER in
    slurm-*_*-*) ;;
    *) die "job $VICTIM_JOB runs on '$VICTIM_WORKER', not on one of the Slurm workers" ;;
  esac
  VICTIM_TASK=${VICTIM_WORKER#slurm-}
  VICTIM_TASK=${VICTIM_TASK%-*}
  BEFORE_STEP=$(q "SELECT ifnull(max(step), 0) FROM checkpoints WHERE job_id = $VICTIM_JOB")
}

watch_sweep() {  # watch_sweep SWEEP: until it ends; fails unless every job succeeded
  if ! timeout 400 "$BIN/switchyard" watch "$1" >"$WORK/watch-$1.out" 2>&1; then
    fail "switchyard watch $1 did not end in success: $(tail -5 "$WORK/watch-$1.out")"
    cli jobs "$1"
  fi
}

# check_attempts JOB FIRST_OUTCOME FIRST_WORKER MIN_RESUME [EXACT_RESUME]:
# attempt 1 ended FIRST_OUTCOME on FIRST_WORKER; the last one succeeded on
# another worker, resumed from a checkpoint at MIN_RESUME or later (exactly
# EXACT_RESUME when given); only one attempt succeeded.
check_attempts() {
  local job=$1 attempts first last first_outcome first_worker last_outcome last_worker last_resumed
  attempts=$(q "SELECT a.number, o.name, w.name, a.resumed_from_step
                FROM attempts a JOIN attempt_outcomes o ON o.value = a.outcome
                JOIN workers w ON w.id = a.worker_id
                WHERE a.job_id = $job ORDER BY a.number")
  printf '%s\n' "$attempts" | sed "s/^/  job $job attempt: /"
  first=$(printf '%s\n' "$attempts" | head -1)
  last=$(printf '%s\n' "$attempts" | tail -1)
  read -r _ first_outcome first_worker _ <<<"$first"
  read -r _ last_outcome last_worker last_resumed <<<"$last"
  [ "$first_outcome" = "$2" ] || fail "job $job: the interrupted attempt ended '$first_outcome', want $2"
  [ "$first_worker" = "$3" ] || fail "job $job: attempt 1 ran on $first_worker, want $3"
  [ "$last_outcome" = succeeded ] || fail "job $job: the last attempt ended '$last_outcome'"
  case $last_worker in
    "$3" | "") fail "job $job: finished on '$last_worker', want another worker" ;;
    slurm-*) ;;
    *) fail "job $job: finished on '$last_worker', not a Slurm worker" ;;
  esac
  [ "${last_resumed:-0}" -gt 0 ] || fail "job $job: the last attempt started from scratch, not from a checkpoint"
  [ "${last_resumed:-0}" -ge "$4" ] ||
    fail "job $job: resumed from step $last_resumed, older than the checkpoint at $4 stored before the interruption"
  if [ -n "${5:-}" ] && [ "$last_resumed" != "$5" ]; then
    fail "job $job: resumed from step $last_resumed, want $5 (the checkpoint the drain uploaded)"
  fi
  [ "$(printf '%s\n' "$attempts" | grep -c ' succeeded ')" = 1 ] || fail "job $job: more than one succeeded attempt"
}

# --- 2-4. SIGTERM: scancel the worker in the middle of a job; it drains.
SWEEP=$(submit_sweep slurm-drain "1, 2")
say "sweep $SWEEP submitted (2 jobs)"
pick_victim "$SWEEP"
TERM_JOB=$VICTIM_JOB TERM_WORKER=$VICTIM_WORKER TERM_TASK=$VICTIM_TASK TERM_BEFORE=$BEFORE_STEP
say "job $TERM_JOB runs on $TERM_WORKER, checkpoint at step $TERM_BEFORE: scancel $TERM_TASK"
scancel "$TERM_TASK"

# Online backup while the coordinator runs and the other worker writes.
sleep 2
sqlite3 "$WORK/coord/switchyard.db" ".backup '$WORK/backup.db'" || fail "sqlite3 .backup on the live database failed"
sqlite3 "$WORK/coord/switchyard.db" "VACUUM INTO '$WORK/vacuum.db'" || fail "VACUUM INTO on the live database failed"
for copy in backup.db vacuum.db; do
  [ "$(sqlite3 "$WORK/$copy" 'PRAGMA integrity_check' 2>&1)" = ok ] || fail "$copy: integrity_check is not ok"
  [ "$(sqlite3 "$WORK/$copy" 'SELECT count(*) FROM jobs' 2>&1)" = 2 ] || fail "$copy: does not hold the sweep's 2 jobs"
done
say "online backups taken"

wait_gone "$TERM_TASK" 60
say "worker job $TERM_TASK gone"
term_out=$WORK/worker-$TERM_TASK.out
grep -q "switchyard-worker exited with 0" "$term_out" ||
  fail "the scancelled worker did not drain and exit 0: $(tail -20 "$term_out")"
# The drained worker's own account of the checkpoint it handed back.
DRAIN_STEP=$(sed -n 's/.*job '"$TERM_JOB"': finished: preempted.*checkpoint at step \([0-9]*\).*/\1/p' "$term_out" | tail -1)
[ -n "$DRAIN_STEP" ] || fail "the drained worker's log names no checkpoint handed back for job $TERM_JOB"
watch_sweep "$SWEEP"
say "sweep $SWEEP done"

# --- 5. SIGKILL: no drain at all. A third worker joins; a second sweep.
ARRAY2=$(submit_workers 1) || die "submit-workers.sh failed"
wait_workers "slurm-${ARRAY2}_" 1
say "worker array $ARRAY2 alive"
SWEEP2=$(submit_sweep slurm-kill "3")
say "sweep $SWEEP2 submitted (1 job)"
pick_victim "$SWEEP2"
KILL_JOB=$VICTIM_JOB KILL_WORKER=$VICTIM_WORKER KILL_TASK=$VICTIM_TASK KILL_BEFORE=$BEFORE_STEP
# What slurmd does once KillWait or GraceTime is over, without the SIGTERM
# before it: SIGKILL to every process of every step of the job (scancel
# --signal=KILL would not do: Slurm turns it into an ordinary cancel).
kill_id=$(squeue -h -j "$KILL_TASK" -o %A)
kill_pids=$(scontrol listpids "$kill_id" | awk 'NR > 1 { print $1 }' | tr '\n' ' ')
say "job $KILL_JOB runs on $KILL_WORKER, checkpoint at step $KILL_BEFORE: SIGKILL to $KILL_TASK (pids $kill_pids)"
[ -n "${kill_pids// /}" ] || die "scontrol listpids $kill_id found no process"
# shellcheck disable=SC2086
kill -KILL $kill_pids
wait_gone "$KILL_TASK" 60
if grep -q "switchyard-worker exited with 0" "$WORK/worker-$KILL_TASK.out"; then
  fail "the SIGKILLed worker claims a clean exit"
fi
watch_sweep "$SWEEP2"
say "sweep $SWEEP2 done"

# Stop the remaining workers (they drain) and the coordinator.
remaining=$(squeue -h -o %i | tr '\n' ' ')
# shellcheck disable=SC2086
[ -z "${remaining// /}" ] || scancel $remaining
for task in $remaining; do
  wait_gone "$task" 60
  grep -q "switchyard-worker exited with 0" "$WORK/worker-$task.out" ||
    fail "worker $task did not exit 0 on scancel: $(tail -20 "$WORK/worker-$task.out")"
done
kill -TERM "$COORD_PID"
wait "$COORD_PID"
code=$?
COORD_PID=""
[ $code -eq 0 ] || fail "the coordinator exited $code on SIGTERM"

# --- 6. The audit, on the file.
[ "$(q "SELECT count(*) FROM jobs WHERE state = 3 AND failures = 0")" = 3 ] ||
  fail "want 3 succeeded jobs without failures: $(q "SELECT id, state, failures, last_cause FROM jobs")"
check_attempts "$TERM_JOB" preempted "$TERM_WORKER" "$TERM_BEFORE" "$DRAIN_STEP"
check_attempts "$KILL_JOB" lost "$KILL_WORKER" "$KILL_BEFORE"
# No two attempts of one job overlap in time.
overlaps=$(q "SELECT count(*) FROM attempts a JOIN attempts b ON a.job_id = b.job_id AND a.number < b.number
              WHERE b.started_at < ifnull(a.ended_at, 1e18)")
[ "$overlaps" = 0 ] || fail "$overlaps pair(s) of attempts of one job overlapped in time"
# Metric points: one per epoch end (step = k * steps_per_epoch). The main
# ones (epoch, loss, eval_loss, accuracy) at every epoch of every job: none
# missing, none doubled; any other name only on that grid (the worker skips
# null values, e.g. the accuracy of a class the evaluation set lacks).
want_steps=$(seq -s, "$STEPS_PER_EPOCH" "$STEPS_PER_EPOCH" $((EPOCHS * STEPS_PER_EPOCH)))
per_name=$(q "SELECT m.job_id, n.name, count(*), count(DISTINCT m.step), group_concat(m.step, ',')
              FROM (SELECT * FROM metrics ORDER BY step) m JOIN metric_names n ON n.id = m.name_id
              GROUP BY m.job_id, n.name")
bad=$(printf '%s\n' "$per_name" | awk -v want="$want_steps" -v epochs="$EPOCHS" '
  BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) grid[w[i]] = 1 }
  $2 ~ /^(epoch|loss|eval_loss|accuracy)$/ && ($3 != epochs || $4 != epochs || $5 != want) { print; next }
  { if ($3 != $4) { print; next }
    k = split($5, s, ","); for (i = 1; i <= k; i++) if (!(s[i] in grid)) { print; next } }')
[ -z "$bad" ] || fail "metric points missing, doubled or off the epoch grid (job name count distinct steps): $bad"
for job in $(q "SELECT id FROM jobs"); do
  for name in epoch loss eval_loss accuracy; do
    printf '%s\n' "$per_name" | awk -v j="$job" -v n="$name" '$1 == j && $2 == n { f = 1 } END { exit !f }' ||
      fail "job $job has no '$name' points"
  done
  [ -n "$(q "SELECT 1 FROM jobs WHERE id = $job AND summary_json != ''")" ] || fail "job $job has no summary"
done

"$CLUSTER" stop "$WORK/cluster"
say "took $((SECONDS - started)) s"
if [ $failures -ne 0 ]; then
  dump_logs
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS"
