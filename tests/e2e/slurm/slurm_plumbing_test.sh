#!/usr/bin/env bash
# A real one-node Slurm (slurm_cluster.sh) and the project's
# deploy/slurm/worker.sbatch and submit-workers.sh, with a stand-in worker
# (stub_worker.py) instead of switchyard-worker:
#   1. a trivial sbatch job and an srun step run;
#   2. two array tasks of one fake GPU each get distinct GPUs, and the worker
#      flags that follow from them (--devices cuda:N, its own work dir, name);
#   3. scancel: the worker gets exactly one SIGTERM, may finish its drain,
#      exits 0; nothing of the job is left;
#   4. the time limit: --signal=TERM@120 reaches the worker before the limit,
#      it drains and the job ends COMPLETED, not TIMEOUT;
#   5. stop: no daemon and no step of this cluster is left.
# Needs root; installs slurm-wlm and munge when they are missing.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CLUSTER=$HERE/slurm_cluster.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the Slurm test runs its daemons as root"
  exit 77
fi
"$CLUSTER" install || { echo "FAIL: could not install slurm-wlm and munge"; exit 1; }

WORK=$(mktemp -d /tmp/switchyard-slurm-plumbing.XXXXXX)
chmod 755 "$WORK"
cleanup() {
  "$CLUSTER" stop "$WORK/cluster" >/dev/null 2>&1
  if [ "${failures:-1}" -ne 0 ]; then
    echo "--- logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
started=$SECONDS

SLURM_CLUSTER_GPUS=2 SLURM_CLUSTER_CPUS=2 SLURM_CLUSTER_KILLWAIT=20 \
  "$CLUSTER" start "$WORK/cluster" >/dev/null || { echo "FAIL: the cluster did not start"; exit 1; }
# shellcheck disable=SC1091
. "$WORK/cluster/env.sh"
echo "cluster up after $((SECONDS - started)) s"

# Waits until job $1 has left the queue (or $2 seconds pass).
wait_gone() {
  local deadline=$((SECONDS + $2))
  while [ -n "$(squeue -h -j "$1" -o %A 2>/dev/null)" ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }

# 1. A trivial job with a step.
j=$(sbatch --parsable -o "$WORK/trivial.out" --wrap 'echo batch-ok; srun -n1 echo step-ok')
wait_gone "$j" 30 || fail "trivial job $j still queued after 30 s"
if ! grep -q batch-ok "$WORK/trivial.out" || ! grep -q step-ok "$WORK/trivial.out"; then
  fail "trivial job output: $(cat "$WORK/trivial.out" 2>&1)"
fi

# The stand-in worker, under the name worker.sbatch looks for.
mkdir -p "$WORK/bin"
cp "$HERE/stub_worker.py" "$WORK/bin/switchyard-worker"
chmod +x "$WORK/bin/switchyard-worker"
echo "not-a-real-token" >"$WORK/worker.token"
chmod 600 "$WORK/worker.token"
export STUB_LOG=$WORK/stub.log STUB_DRAIN=3 SWITCHYARD_WORK_ROOT=$WORK/scratch
submit() {  # submit N [submit-workers options...]: prints the array job id
  local n=$1
  shift
  "$ROOT/deploy/slurm/submit-workers.sh" --token-file "$WORK/worker.token" --bin-dir "$WORK/bin" \
    --output "$WORK/worker-%A_%a.out" "$@" "$n" 127.0.0.1:9
}

# 2. Two workers of one GPU each: distinct GPUs, each its own flags.
: >"$STUB_LOG"
arr=$(submit 2 --gpus 1 --cpus 1)
[ -n "$arr" ] || fail "submit-workers.sh printed no job id"
deadline=$((SECONDS + 30))
while [ "$(grep -c ' start ' "$STUB_LOG")" -lt 2 ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
[ "$(grep -c ' start ' "$STUB_LOG")" = 2 ] || fail "2 workers did not start: $(cat "$STUB_LOG"; squeue)"
devices=$(grep ' start ' "$STUB_LOG" | grep -o -- '--devices [^ ]*' | sort | tr '\n' ' ')
[ "$devices" = "--devices cuda:0 --devices cuda:1 " ] || fail "GPU binding: got '$devices'"
grep ' start ' "$STUB_LOG" | grep -q 'cvd=-' ||
  fail "the worker must not inherit CUDA_VISIBLE_DEVICES: $(cat "$STUB_LOG")"
for flag in "--coordinator 127.0.0.1:9" "--token-file $WORK/worker.token" "--name slurm-${arr}_0-" \
            "--name slurm-${arr}_1-" "--work-dir " "--drain-timeout " "--threads-per-slot 1"; do
  grep -q -- "$flag" "$STUB_LOG" || fail "no '$flag' in the worker's flags: $(cat "$STUB_LOG")"
done

# 3. scancel one of them: one SIGTERM, the drain finishes, exit 0.
scancel "${arr}_0"
wait_gone "${arr}_0" 40 || fail "job ${arr}_0 still there 40 s after scancel"
pid0=$(grep -- "--name slurm-${arr}_0-" "$STUB_LOG" | cut -d' ' -f1)
[ "$(grep -c "^$pid0 SIGTERM" "$STUB_LOG")" = 1 ] ||
  fail "scancel: the worker got $(grep -c "^$pid0 SIGTERM" "$STUB_LOG") SIGTERMs, want 1"
grep -q "^$pid0 drained" "$STUB_LOG" || fail "scancel: the worker could not finish its drain"
grep -q "switchyard-worker exited with 0" "$WORK/worker-${arr}_0.out" ||
  fail "scancel: no clean exit: $(cat "$WORK/worker-${arr}_0.out")"
[ "$(job_state "${arr}_0")" = CANCELLED ] || fail "job ${arr}_0 is $(job_state "${arr}_0"), want CANCELLED"
[ -d "$WORK/scratch/switchyard-worker-${arr}_1-$(hostname -s)" ] || fail "no work dir for the running worker"
[ ! -e "$WORK/scratch/switchyard-worker-${arr}_0-$(hostname -s)" ] || fail "the work dir of a clean exit was kept"
scancel "${arr}_1"
wait_gone "${arr}_1" 40 || fail "job ${arr}_1 still there 40 s after scancel"

# 4. The time limit (1 minute, less than the 120 s of --signal): SIGTERM comes
# at Slurm's next periodic check, the worker drains, the job COMPLETES.
: >"$STUB_LOG"
arr=$(submit 1 --cpus 1 --time 1)
wait_gone "${arr}_0" 75 || fail "time limit: job ${arr}_0 still there after 75 s"
grep -q ' start .*--devices cpu' "$STUB_LOG" || fail "time limit: no CPU worker: $(cat "$STUB_LOG")"
[ "$(grep -c ' SIGTERM' "$STUB_LOG")" = 1 ] || fail "time limit: $(grep -c ' SIGTERM' "$STUB_LOG") SIGTERMs, want 1"
grep -q ' drained' "$STUB_LOG" || fail "time limit: the worker did not drain"
state=$(job_state "${arr}_0")
[ "$state" = COMPLETED ] || fail "time limit: job ${arr}_0 is $state, want COMPLETED (drained before the limit)"

# 5. Everything stops.
"$CLUSTER" stop "$WORK/cluster"
left=""
for p in /proc/[0-9]*; do
  for fd in "$p"/fd/*; do
    case $(readlink "$fd" 2>/dev/null) in
      "$WORK"/*) left="$left ${p#/proc/}($(cat "$p/comm" 2>/dev/null))"; break ;;
    esac
  done
done
for f in munged slurmctld slurmd; do
  pid=$(cat "$WORK/cluster/run/$f.pid" 2>/dev/null)
  if [ -n "$pid" ] && [ -e "/proc/$pid" ] && ! grep -q ') Z ' "/proc/$pid/stat" 2>/dev/null; then
    left="$left $pid($f)"
  fi
done
[ -z "$left" ] || fail "processes left after stop:$left"

echo "took $((SECONDS - started)) s"
if [ $failures -ne 0 ]; then
  for f in "$WORK"/cluster/log/slurmctld.log "$WORK"/cluster/log/slurmd.log; do
    echo "--- tail $f"; tail -30 "$f"
  done
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS"
