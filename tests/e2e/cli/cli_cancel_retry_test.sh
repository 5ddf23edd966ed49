#!/usr/bin/env bash
# cancel and retry through the CLI against a real coordinator and worker:
# failing jobs (watch exits 4, why shows the cause, retry requeues them), and
# a long sweep cancelled job by job and then whole.
#   cli_cancel_retry_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/lib.sh"
DIR="$SOURCE_DIR/tests/e2e/cli"

start_coordinator
start_worker

watch_to_end() {  # watch_to_end SWEEP WANT_EXIT
  expect_exit "$2" "watch $1" -- timeout 300 "$SWITCHYARD" --coordinator "$COORD_ADDR" \
    --token-file "$DATA_DIR/client.token" watch "$1"
}

# 1. Jobs that fail: watch exits 4 and says why; why shows each attempt.
expect_exit 0 "submit failing" -- sy submit "$DIR/failing.yaml"
FAILING=$(cat "$WORK/out")
watch_to_end "$FAILING" 4
expect_grep "watch failing" "sweep $FAILING ended: 0 of 2 jobs succeeded (failed 2, lost 0, cancelled 0)" "$WORK/err"
expect_exit 0 "jobs failed" -- sy jobs "$FAILING" --state failed --output csv
[ "$(csv_rows "$WORK/out")" = 2 ] || fail "jobs --state failed: not 2 rows: $(cat "$WORK/out")"
JOB=$(sed -n '2s/,.*//p' "$WORK/out")
expect_exit 0 "why failed" -- sy why "$JOB"
expect_grep "why failed" "is failed" "$WORK/out"
expect_grep "why failed" "failed" "$WORK/out"
grep -qi "nan" "$WORK/out" || fail "why: the cause (a NaN loss) is not shown: $(cat "$WORK/out")"
expect_exit 0 "why csv" -- sy why "$JOB" --output csv
[ "$(tail -n +2 "$WORK/out" | grep -c ',failed,')" -ge 1 ] || fail "why --output csv: no failed attempt row"
pass "failing jobs: watch exit 4, why shows the cause"

# 2. retry: only the requested states; the requeued jobs run (and fail) again.
expect_exit 0 "retry lost" -- sy retry "$FAILING" --state lost
expect_grep "retry lost" "requeued 0 lost jobs" "$WORK/out"
attempts_before=$(db "SELECT COUNT(*) FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE j.sweep_id = $FAILING")
expect_exit 0 "retry failed" -- sy retry "$FAILING" --state failed
expect_grep "retry failed" "sweep $FAILING: requeued 2 failed jobs" "$WORK/out"
watch_to_end "$FAILING" 4
attempts_after=$(db "SELECT COUNT(*) FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE j.sweep_id = $FAILING")
[ "$attempts_after" -eq $((attempts_before + 2)) ] ||
  fail "retry: $attempts_before attempts before, $attempts_after after; want 2 more"
expect_exit 1 "retry bad state" -- sy retry "$FAILING" --state running
pass "retry requeued the failed jobs"

# 3. cancel: one pending job, then the whole sweep with running jobs in it.
expect_exit 0 "submit long" -- sy submit "$DIR/long.yaml"
LONG=$(cat "$WORK/out")
wait_for_sql "SELECT COUNT(*) FROM jobs WHERE sweep_id = $LONG AND state = 2" 2 60  # two running
# The worker reports busy slots in its next heartbeat (every second), not at
# the claim: wait for it so that `why` sees both slots taken.
wait_for_sql "SELECT COALESCE(SUM(slots_busy), 0) FROM workers" 2 30
expect_exit 0 "jobs pending" -- sy jobs "$LONG" --state pending --output csv
PENDING=$(sed -n '2s/,.*//p' "$WORK/out")
[ -n "$PENDING" ] || fail "no pending job to cancel"
expect_exit 0 "why pending" -- sy why "$PENDING"
expect_grep "why pending" "is pending" "$WORK/out"
expect_grep "why pending" "pending jobs go first" "$WORK/out"
expect_grep "why pending" "every slot is busy: 2 of 2 slots on 1 worker" "$WORK/out"
expect_exit 0 "cancel job" -- sy cancel "job/$PENDING"
expect_grep "cancel job" "job $PENDING: cancelled 1 pending job" "$WORK/out"
expect_exit 0 "why cancelled" -- sy why "$PENDING"
expect_grep "why cancelled" "is cancelled" "$WORK/out"
expect_exit 0 "cancel sweep" -- sy cancel "$LONG"
expect_grep "cancel sweep" "sweep $LONG: cancelled 3 pending jobs; 2 running jobs told to stop" "$WORK/out"
watch_to_end "$LONG" 4
expect_grep "watch cancelled" "cancelled 6" "$WORK/err"
expect_exit 0 "status cancelled" -- sy status "$LONG" --output csv
expect_grep "status cancelled" ",e2e-long,finished,0,6,0,0,0,0,0,6," "$WORK/out"
pass "cancel: a job, then the sweep; watch exits 4 once all are cancelled"

finish
