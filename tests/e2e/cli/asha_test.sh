#!/bin/bash
# ASHA end to end with real processes, and the crash test of issue 19: an
# ASHA sweep runs on a real worker and trainer while its coordinator is
# killed with SIGKILL up to six times at random moments and started again on the
# same data folder and port. The schedule must go on where it was: every
# decision written once (no decision lost, none taken twice), rungs and
# promotions consistent, each promoted job resumed from its checkpoint, and
# the sweep ending with its paused jobs stopped.
# Usage: asha_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/lib.sh"

PORT=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_coordinator --listen "127.0.0.1:$PORT"
start_worker
expect_exit 0 "submit the ASHA sweep" -- sy submit "$SOURCE_DIR/tests/e2e/cli/asha.yaml"
SWEEP=$(cat "$WORK/out")

# Six kills at random moments (0.4 to 1.5 s apart) while the sweep runs
# (about 10 s without them); the seed is printed, SWITCHYARD_CRASH_SEED
# replays it.
SEED=${SWITCHYARD_CRASH_SEED:-$RANDOM}
echo "kill seed: $SEED"
RANDOM=$SEED
kills=0
for _ in 1 2 3 4 5 6; do
  sleep "$((RANDOM % 2)).$((RANDOM % 6 + 4))"
  finished=$(db "SELECT finished_at IS NOT NULL FROM sweeps WHERE id = $SWEEP" 2>/dev/null)
  [ "$finished" = "1" ] && break
  kill -KILL "$COORD_PID"
  wait "$COORD_PID" 2>/dev/null
  kills=$((kills + 1))
  start_coordinator --listen "127.0.0.1:$PORT"
done
echo "coordinator killed $kills times"
[ "$kills" -ge 3 ] || fail "the sweep ended after $kills kills; the test wants at least 3"

expect_exit 0 "watch the ASHA sweep to its end" -- timeout 300 "$SWITCHYARD" \
  --coordinator "$COORD_ADDR" --token-file "$DATA_DIR/client.token" watch "$SWEEP"

check_sql() {  # check_sql WHAT EXPECTED SQL
  local got
  got=$(db "$3")
  if [ "$got" = "$2" ]; then pass "$1"; else fail "$1: expected $2, got '$got'"; fi
}
check_sql "the sweep is finished" 1 "SELECT finished_at IS NOT NULL FROM sweeps WHERE id = $SWEEP"
check_sql "nothing is pending, running or paused" 0 \
  "SELECT COUNT(*) FROM jobs WHERE sweep_id = $SWEEP AND state IN (1, 2, 7)"
check_sql "every trial ended succeeded or stopped" 9 \
  "SELECT COUNT(*) FROM jobs WHERE sweep_id = $SWEEP AND state IN (3, 8)"
check_sql "every trial was started once, at rung 0" 9 \
  "SELECT COUNT(*) FROM schedule_decisions WHERE sweep_id = $SWEEP AND kind = 'start' AND rung = 0"
check_sql "no decision was taken twice" 0 \
  "SELECT COUNT(*) FROM (SELECT job_id, kind, rung FROM schedule_decisions
   WHERE sweep_id = $SWEEP GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)"
check_sql "every rung result has its pause or done decision" 0 \
  "SELECT COUNT(*) FROM rung_results r JOIN jobs j ON j.id = r.job_id WHERE j.sweep_id = $SWEEP
   AND NOT EXISTS (SELECT 1 FROM schedule_decisions d WHERE d.job_id = r.job_id
                   AND d.rung = r.rung AND d.kind IN ('pause', 'done'))"
check_sql "every pause or done decision has its rung result" 0 \
  "SELECT COUNT(*) FROM schedule_decisions d WHERE d.sweep_id = $SWEEP AND d.kind IN ('pause', 'done')
   AND NOT EXISTS (SELECT 1 FROM rung_results r WHERE r.job_id = d.job_id AND r.rung = d.rung)"
check_sql "rung 0 was reached by all nine" 9 \
  "SELECT COUNT(*) FROM rung_results r JOIN jobs j ON j.id = r.job_id
   WHERE j.sweep_id = $SWEEP AND r.rung = 0"
# Promotions: the final top third of rungs 0 and 1 (by accuracy, ties to the
# lower id, a missing value last) were all promoted at some point; a job
# promoted early may have fallen out of it since (ASHA does not take it back).
check_sql "each rung's final top third was promoted" 0 \
  "SELECT COUNT(*) FROM (SELECT r.job_id, r.rung,
     ROW_NUMBER() OVER (PARTITION BY r.rung ORDER BY r.value IS NULL, r.value DESC, r.job_id) AS rank,
     COUNT(*) OVER (PARTITION BY r.rung) AS n
     FROM rung_results r JOIN jobs j ON j.id = r.job_id WHERE j.sweep_id = $SWEEP AND r.rung < 2) t
   WHERE t.rank <= t.n / 3 AND NOT EXISTS (SELECT 1 FROM schedule_decisions d
     WHERE d.job_id = t.job_id AND d.kind = 'promote' AND d.rung = t.rung)"
check_sql "every promoted job trained the next rung" 0 \
  "SELECT COUNT(*) FROM schedule_decisions d WHERE d.sweep_id = $SWEEP AND d.kind = 'promote'
   AND NOT EXISTS (SELECT 1 FROM rung_results r WHERE r.job_id = d.job_id AND r.rung = d.rung + 1)"
check_sql "no job trained a rung it was not promoted to" 0 \
  "SELECT COUNT(*) FROM rung_results r JOIN jobs j ON j.id = r.job_id
   WHERE j.sweep_id = $SWEEP AND r.rung > 0 AND NOT EXISTS (SELECT 1 FROM schedule_decisions d
     WHERE d.job_id = r.job_id AND d.kind = 'promote' AND d.rung = r.rung - 1)"
check_sql "the jobs that trained the top rung succeeded, and only they" 0 \
  "SELECT COUNT(*) FROM jobs j WHERE j.sweep_id = $SWEEP AND (j.state = 3) !=
   EXISTS (SELECT 1 FROM rung_results r WHERE r.job_id = j.id AND r.rung = 2)"
check_sql "every stopped job has its stop decision" 0 \
  "SELECT COUNT(*) FROM jobs j WHERE j.sweep_id = $SWEEP AND j.state = 8 AND NOT EXISTS
   (SELECT 1 FROM schedule_decisions d WHERE d.job_id = j.id AND d.kind = 'stop')"
check_sql "stopped jobs cost no retry budget" 0 \
  "SELECT COALESCE(SUM(failures), 0) FROM jobs WHERE sweep_id = $SWEEP AND state = 8"
# The epoch budgets reached the trainer: each job's last logged epoch is
# the epoch of the highest rung it trained (1, 3 or 9), no more.
check_sql "each trial trained exactly to its rung's epoch" 0 \
  "SELECT COUNT(*) FROM jobs j WHERE j.sweep_id = $SWEEP AND
   (SELECT MAX(m.value) FROM metrics m JOIN metric_names n ON n.id = m.name_id
    WHERE m.job_id = j.id AND n.name = 'epoch') IS NOT
   (SELECT MAX(r.epoch) FROM rung_results r WHERE r.job_id = j.id)"
# A promotion resumes from the rung's checkpoint rather than from scratch.
check_sql "each promotion resumed from a checkpoint" 0 \
  "SELECT COUNT(*) FROM schedule_decisions d WHERE d.sweep_id = $SWEEP AND d.kind = 'promote'
   AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = d.job_id AND a.resumed_from_step > 0)"

# What people see.
expect_exit 0 "status shows the rungs" -- sy status "$SWEEP"
expect_grep "rung 0 in status" "rung 0 (epoch 1)" "$WORK/out"
STOPPED=$(db "SELECT id FROM jobs WHERE sweep_id = $SWEEP AND state = 8 ORDER BY id LIMIT 1")
expect_exit 0 "why a stopped job" -- sy why "$STOPPED"
expect_grep "why gives the stop decision" "stopped at rung" "$WORK/out"

finish
