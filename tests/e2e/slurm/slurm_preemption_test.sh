#!/usr/bin/env bash
# The whole Slurm story with the real binaries, on a real one-node Slurm
# (slurm_cluster.sh):
#   1. a coordinator; two worker jobs submitted with the project's own
#      deploy/slurm/submit-workers.sh and worker.sbatch through sbatch;
#   2. a small sweep submitted with the CLI;
#   3. in the middle of a job, scancel of the worker job that runs it; an
#      online backup of the database (sqlite3 .backup and VACUUM INTO) while
#      the other worker writes;
#   4. the sweep finishes (switchyard watch); then the audit: the scancelled
#      worker drained and exited 0; its attempt ended *preempted* (not lost)
#      after uploading a checkpoint; the job resumed on the other worker from
#      exactly that checkpoint and succeeded; no two attempts of a job ran at
#      once; every job has every metric point once (one per epoch and name),
#      none missing and none doubled.
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

# The drain must fit in KillWait (30 s) for scancel.
ARRAY=$(SWITCHYARD_DRAIN_TIMEOUT=25 SWITCHYARD_WORK_ROOT="$WORK/scratch" SWITCHYARD_TOKEN="" \
  "$ROOT/deploy/slurm/submit-workers.sh" --token-file "$WORK/coord/worker.token" --bin-dir "$BIN" \
  --cpus 1 --slots 1 --output "$WORK/worker-%A_%a.out" 2 "$ADDRESS") || die "submit-workers.sh failed"
[ -n "$ARRAY" ] || die "submit-workers.sh printed no job id"
say "worker array $ARRAY"

# JSON helpers (the CLI's --output json: an array of objects keyed by column).
json() { "$PY" -c "import json,sys; rows=json.load(sys.stdin); $1"; }

alive_workers() {
  cli --output json workers 2>/dev/null |
    json "print(sum(1 for r in rows if str(r.get('name','')).startswith('slurm-${ARRAY}_') and r.get('state')=='alive'))"
}
deadline=$((SECONDS + 90))
while [ "$(alive_workers)" != 2 ]; do
  [ $SECONDS -lt $deadline ] || die "two Slurm workers did not register within 90 s: $(cli workers 2>&1; squeue)"
  sleep 1
done
say "2 workers alive"

# --- 2. A small sweep: two jobs, one per worker, long enough to be caught
# in the middle, with checkpoints every few steps.
EPOCHS=8
STEPS_PER_EPOCH=120
cat >"$WORK/sweep.yaml" <<EOF
name: slurm-preemption
model: lstm
tasks: IARC
seed: [1, 2]
preset: small
epochs: $EPOCHS
steps_per_epoch: $STEPS_PER_EPOCH
batch_size: 32
lr: 0.003
eval_windows: 200
checkpoint_every: 20
EOF
SWEEP=$(cli submit "$WORK/sweep.yaml") || die "switchyard submit failed: $SWEEP"
SWEEP=$(printf '%s\n' "$SWEEP" | grep -o '[0-9][0-9]*' | head -1)
say "sweep $SWEEP submitted"

# Metric points per job so far (switchyard export: sweep,job,...,name,step,value).
points_per_job() {
  cli export "$SWEEP" --out - 2>/dev/null | awk -F, 'NR > 1 { n[$2]++ } END { for (j in n) print j, n[j] }'
}
# --- 3. Wait for a running job with at least one epoch stored, not finished.
VICTIM_JOB="" VICTIM_WORKER=""
deadline=$((SECONDS + 240))
while [ -z "$VICTIM_JOB" ]; do
  [ $SECONDS -lt $deadline ] || die "no job reached its first epoch within 240 s: $(cli jobs "$SWEEP" 2>&1)"
  running=$(cli --output json jobs "$SWEEP" --state running 2>/dev/null | json "print(' '.join(str(r['id']) for r in rows))")
  if [ -n "$running" ]; then
    counts=$(points_per_job)
    for job in $running; do
      n=$(printf '%s\n' "$counts" | awk -v j="$job" '$1 == j { print $2 }')
      if [ -n "$n" ] && [ "$n" -gt 0 ]; then
        VICTIM_JOB=$job
        break
      fi
    done
  fi
  [ -n "$VICTIM_JOB" ] || sleep 1
done
VICTIM_WORKER=$(cli --output json why "$VICTIM_JOB" | json "print(rows[-1]['worker'])")
case $VICTIM_WORKER in
  "slurm-${ARRAY}_"*) ;;
  *) die "job $VICTIM_JOB runs on '$VICTIM_WORKER', not on one of the Slurm workers" ;;
esac
VICTIM_TASK=${VICTIM_WORKER#slurm-}
VICTIM_TASK=${VICTIM_TASK%-*}  # 123_0
OTHER_TASK=${ARRAY}_$((1 - ${VICTIM_TASK#*_}))
# The newest checkpoint stored before the scancel (a read of the live file;
# the coordinator prunes old checkpoint rows later, so it is noted now).
before_step=$(sqlite3 "$WORK/coord/switchyard.db" "SELECT ifnull(max(step), 0) FROM checkpoints WHERE job_id = $VICTIM_JOB")
say "job $VICTIM_JOB runs on $VICTIM_WORKER, checkpoint at step $before_step: scancel $VICTIM_TASK"
scancel "$VICTIM_TASK"

# Online backup while the coordinator runs and the other worker writes.
sleep 2
sqlite3 "$WORK/coord/switchyard.db" ".backup '$WORK/backup.db'" || fail "sqlite3 .backup on the live database failed"
sqlite3 "$WORK/coord/switchyard.db" "VACUUM INTO '$WORK/vacuum.db'" || fail "VACUUM INTO on the live database failed"
for copy in backup.db vacuum.db; do
  [ "$(sqlite3 "$WORK/$copy" 'PRAGMA integrity_check' 2>&1)" = ok ] || fail "$copy: integrity_check is not ok"
  [ "$(sqlite3 "$WORK/$copy" 'SELECT count(*) FROM jobs' 2>&1)" = 2 ] || fail "$copy: does not hold the sweep's 2 jobs"
done
say "online backups taken"

deadline=$((SECONDS + 60))
while [ -n "$(squeue -h -j "$VICTIM_TASK" -o %A 2>/dev/null)" ]; do
  [ $SECONDS -lt $deadline ] || { fail "worker job $VICTIM_TASK still there 60 s after scancel"; break; }
  sleep 1
done
say "worker job $VICTIM_TASK gone"
victim_out=$WORK/worker-$VICTIM_TASK.out
grep -q "switchyard-worker exited with 0" "$victim_out" ||
  fail "the scancelled worker did not drain and exit 0: $(tail -20 "$victim_out")"

# --- 4. The sweep finishes on the remaining worker.
if ! timeout 400 "$BIN/switchyard" watch "$SWEEP" >"$WORK/watch.out" 2>&1; then
  fail "switchyard watch $SWEEP did not end in success: $(tail -5 "$WORK/watch.out")"
  cli jobs "$SWEEP"
fi
say "sweep $SWEEP done"
cli why "$VICTIM_JOB" | sed 's/^/  /'

# Stop the other worker (it drains) and the coordinator, then audit the file.
scancel "$OTHER_TASK"
deadline=$((SECONDS + 60))
while [ -n "$(squeue -h -j "$OTHER_TASK" -o %A 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 1; done
grep -q "switchyard-worker exited with 0" "$WORK/worker-$OTHER_TASK.out" ||
  fail "the second worker did not exit 0 on scancel: $(tail -20 "$WORK/worker-$OTHER_TASK.out")"
kill -TERM "$COORD_PID"
wait "$COORD_PID"
code=$?
COORD_PID=""
[ $code -eq 0 ] || fail "the coordinator exited $code on SIGTERM"

q() { sqlite3 -separator ' ' "$WORK/coord/switchyard.db" "$1"; }
# Jobs: both succeeded, no failure counted.
[ "$(q "SELECT count(*) FROM jobs WHERE sweep_id = $SWEEP AND state = 3 AND failures = 0")" = 2 ] ||
  fail "want 2 succeeded jobs without failures: $(q "SELECT id, state, failures, last_cause FROM jobs")"
# The victim's attempts, in order.
attempts=$(q "SELECT a.number, o.name, w.name, a.resumed_from_step, a.started_at, ifnull(a.ended_at, 0)
              FROM attempts a JOIN attempt_outcomes o ON o.value = a.outcome JOIN workers w ON w.id = a.worker_id
              WHERE a.job_id = $VICTIM_JOB ORDER BY a.number")
echo "$attempts" | sed 's/^/  attempt: /'
first=$(echo "$attempts" | head -1)
last=$(echo "$attempts" | tail -1)
read -r _ first_outcome first_worker _ <<<"$first"
read -r _ last_outcome last_worker last_resumed _ <<<"$last"
[ "$first_outcome" = preempted ] ||
  fail "the scancelled attempt ended '$first_outcome', want preempted (a drain, not a lost lease)"
[ "$first_worker" = "$VICTIM_WORKER" ] || fail "attempt 1 ran on $first_worker, want $VICTIM_WORKER"
[ "$last_outcome" = succeeded ] || fail "the last attempt ended '$last_outcome'"
case $last_worker in
  "slurm-${OTHER_TASK}-"*) ;;
  *) fail "the job finished on '$last_worker', want the other Slurm worker slurm-${OTHER_TASK}-*" ;;
esac
# The drained worker's own account of the checkpoint it handed back.
drain_step=$(sed -n 's/.*job '"$VICTIM_JOB"': finished: preempted.*checkpoint at step \([0-9]*\).*/\1/p' "$victim_out" | tail -1)
[ -n "$drain_step" ] || fail "the drained worker's log names no checkpoint handed back for job $VICTIM_JOB"
[ "${last_resumed:-0}" -gt 0 ] || fail "the last attempt started from scratch, not from a checkpoint"
[ "${last_resumed:-0}" -ge "$before_step" ] ||
  fail "the last attempt resumed from step $last_resumed, older than the checkpoint at $before_step stored before the scancel"
[ "$last_resumed" = "${drain_step:-}" ] ||
  fail "the last attempt resumed from step $last_resumed, want $drain_step (the checkpoint the drain uploaded)"
[ "$(echo "$attempts" | grep -c ' succeeded ')" = 1 ] || fail "job $VICTIM_JOB has more than one succeeded attempt"
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
for job in $(q "SELECT id FROM jobs WHERE sweep_id = $SWEEP"); do
  for name in epoch loss eval_loss accuracy; do
    printf '%s\n' "$per_name" | awk -v j="$job" -v n="$name" '$1 == j && $2 == n { f = 1 } END { exit !f }' ||
      fail "job $job has no '$name' points"
  done
done
names=$(q "SELECT count(DISTINCT name_id) FROM metrics WHERE job_id = $VICTIM_JOB")
[ "$names" -ge 2 ] || fail "job $VICTIM_JOB has $names metric name(s)"
# The same export through the CLI (after a restart it reads the same file).
[ "$(q "SELECT count(*) FROM metrics m JOIN jobs j ON j.id = m.job_id WHERE j.sweep_id = $SWEEP")" -gt 0 ] ||
  fail "no metric points at all"
[ -n "$(q "SELECT summary_json FROM jobs WHERE id = $VICTIM_JOB AND summary_json != ''")" ] ||
  fail "job $VICTIM_JOB has no summary"

"$CLUSTER" stop "$WORK/cluster"
say "took $((SECONDS - started)) s"
if [ $failures -ne 0 ]; then
  dump_logs
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS"
