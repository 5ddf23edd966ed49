#!/usr/bin/env bash
# A program of the user's own end to end (issue 20): the PyTorch example of
# examples/own-trainer on a real coordinator and worker; a kill -9 of the
# worker mid-job resumes from the program's checkpoint with no duplicate
# steps; cancel stops it in time; programs that break the protocol (garbage
# lines, NaN, an unknown exit code, SIGTERM ignored, a flooded stdout) each
# get a clear cause in `why` while the worker stays healthy and no data is
# lost; a program no worker has waits and `why` says so; a path is refused.
#   own_trainer_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/../cli/lib.sh"
HERE="$SOURCE_DIR/tests/e2e/own_trainer"
PROGRAMS="$HERE/programs"

if ! "$PYTHON3" -c 'import torch' 2>/dev/null; then
  if [ "${CI:-}" = true ]; then fail "python3-torch is missing (scripts/setup.sh installs it)"; finish; fi
  echo "SKIP: $PYTHON3 cannot import torch (apt-get install python3-torch)"; exit 0
fi

start_coordinator
worker_flags=(--program "own-trainer=$SOURCE_DIR/examples/own-trainer/train.py"
  --program "garbage=$PROGRAMS/garbage.py" --program "nan=$PROGRAMS/nan.py"
  --program "unknown-exit=$PROGRAMS/unknown_exit.py" --program "flood=$PROGRAMS/flood.py"
  --program "ignore-sigterm=$PROGRAMS/ignore_sigterm.py")
start_worker "${worker_flags[@]}"

# ---- A path is refused at submit; a program no worker has waits.
printf 'name: path\nprogram: /usr/bin/python3\n' >"$WORK/path.yaml"
expect_exit 1 "submit a path" -- sy submit "$WORK/path.yaml"
expect_grep "submit a path" "path.yaml:2:10: program: '/usr/bin/python3' is a path" "$WORK/err"

printf 'name: nobody\nprogram: nobody-has-it\nepochs: 1\n' >"$WORK/nobody.yaml"
expect_exit 0 "submit nobody" -- sy submit "$WORK/nobody.yaml"
NOBODY=$(cat "$WORK/out")
NOBODY_JOB=$(db "SELECT id FROM jobs WHERE sweep_id = $NOBODY")

# ---- The example sweep runs to completion.
submit_and_watch "$SOURCE_DIR/examples/own-trainer/sweep.yaml" 0
EXAMPLE=$SWEEP
expect_grep "watch example" "4/4 ended (100.0%) | done 4" "$WORK/out"
expect_exit 0 "results by params.model" -- sy results "$EXAMPLE" --group-by params.model --output csv
expect_grep "results" "lstm,accuracy," "$WORK/out"
expect_grep "results" "ssm,accuracy," "$WORK/out"
expect_exit 0 "export" -- sy export "$EXAMPLE" --out "$WORK/example.csv"
head -1 "$WORK/example.csv" | grep -qF "seed,params.hidden,params.layers,params.model,name" ||
  fail "export: no params columns: $(head -1 "$WORK/example.csv")"
expect_exit 0 "figure by params.model" -- sy figure "$EXAMPLE" --kind curves --group-by params.model --out "$WORK/example.svg"

# The unknown program's job still waits, and why says for what.
[ "$(db "SELECT state FROM jobs WHERE id = $NOBODY_JOB")" = 1 ] || fail "the nobody job left pending"
expect_exit 0 "why nobody" -- sy why "$NOBODY_JOB"
expect_grep "why nobody" "it waits for a worker that runs program 'nobody-has-it'" "$WORK/out"
expect_grep "why nobody" "--program nobody-has-it=" "$WORK/out"
pass "a path is refused; a program no worker has waits, and why says so"

# ---- kill -9 of the worker mid-job: the job resumes from the program's
# checkpoint, and every epoch is stored once.
expect_exit 0 "submit long" -- sy submit "$HERE/long.yaml"
LONG=$(cat "$WORK/out")
LONG_JOB=$(db "SELECT id FROM jobs WHERE sweep_id = $LONG")
wait_for_sql "SELECT COUNT(*) FROM checkpoints WHERE job_id = $LONG_JOB" 1 120
kill -KILL "$WORKER_PID"
wait "$WORKER_PID" 2>/dev/null
[ "$(db "SELECT state FROM jobs WHERE id = $LONG_JOB")" = 2 ] || fail "the long job was not running at the kill"
mv "$WORK/worker.log" "$WORK/worker-killed.log"
start_worker "${worker_flags[@]}"
expect_exit 0 "watch long" -- timeout 300 "$SWITCHYARD" --coordinator "$COORD_ADDR" \
  --token-file "$DATA_DIR/client.token" watch "$LONG"
resumed=$(db "SELECT MAX(resumed_from_step) FROM attempts WHERE job_id = $LONG_JOB")
[ "${resumed:-0}" -gt 0 ] || fail "the long job did not resume from a checkpoint (resumed_from_step $resumed)"
epochs=$(db "SELECT COUNT(*) || ',' || COUNT(DISTINCT m.step) FROM metrics m JOIN metric_names n
             ON n.id = m.name_id WHERE m.job_id = $LONG_JOB AND n.name = 'epoch'")
[ "$epochs" = "16,16" ] || fail "epoch points (rows,distinct steps) = $epochs, want 16,16"
pass "kill -9: resumed from step $resumed; 16 epochs stored once"

# ---- cancel stops it within the documented time (SIGTERM, then 30 s).
printf 'seed: 2\n' >"$WORK/long2.yaml"; grep -v '^seed' "$HERE/long.yaml" >>"$WORK/long2.yaml"
expect_exit 0 "submit long2" -- sy submit "$WORK/long2.yaml"
LONG2=$(cat "$WORK/out")
LONG2_JOB=$(db "SELECT id FROM jobs WHERE sweep_id = $LONG2")
wait_for_sql "SELECT COUNT(*) FROM metrics WHERE job_id = $LONG2_JOB" 1 120
start=$SECONDS
expect_exit 0 "cancel" -- sy cancel "$LONG2"
wait_for_sql "SELECT COUNT(*) FROM jobs WHERE id = $LONG2_JOB AND state = 6" 1 30
took=$((SECONDS - start))
[ "$took" -le 30 ] || fail "cancel took ${took}s"
pass "cancel stopped the program in ${took}s"

# ---- Programs that break the protocol.
expect_exit 0 "submit misbehaving" -- sy submit "$HERE/misbehaving.yaml"
BAD=$(cat "$WORK/out")
expect_exit 0 "submit ignore-sigterm" -- sy submit <(printf 'name: deaf\nprogram: ignore-sigterm\n')
DEAF=$(cat "$WORK/out")
DEAF_JOB=$(db "SELECT id FROM jobs WHERE sweep_id = $DEAF")
wait_for_sql "SELECT COUNT(*) FROM jobs WHERE sweep_id = $BAD AND state IN (3, 4)" 4 180
job_of() { db "SELECT id FROM jobs WHERE sweep_id = $BAD AND json_extract(config_json, '\$.program') = '$1'"; }
why_has() {  # why_has PROGRAM TEXT
  expect_exit 0 "why $1" -- sy why "$(job_of "$1")" && expect_grep "why $1" "$2" "$WORK/out"
}
why_has garbage "is succeeded"
why_has garbage "4 stdout lines were not protocol lines and skipped (the first: "
why_has nan "training failed (trainer exit code 3): loss is NaN at step 20"
why_has nan "1 stdout line was not a protocol line and skipped"
why_has unknown-exit "the trainer exited with code 42, which the trainer protocol does not define"
why_has unknown-exit "exiting with 42 for no reason"
why_has flood "is succeeded"
# The 5 MiB line arrives as one line or as 4 MiB pieces, as the pipe has it.
why_has flood " stdout line"
flood_points=$(db "SELECT COUNT(*) FROM metrics m JOIN metric_names n ON n.id = m.name_id
                   WHERE m.job_id = $(job_of flood) AND n.name = 'loss'")
[ "$flood_points" = 50000 ] || fail "flood: $flood_points of 50000 loss points stored"
garbage_points=$(db "SELECT COUNT(*) FROM metrics WHERE job_id = $(job_of garbage)")
[ "$garbage_points" = 9 ] || fail "garbage: $garbage_points of 9 points stored"

# SIGTERM ignored: the cancel ends with SIGKILL after the 30 s grace.
wait_for_sql "SELECT COUNT(*) FROM metrics WHERE job_id = $DEAF_JOB" 1 60
expect_exit 0 "cancel deaf" -- sy cancel "$DEAF"
wait_for_sql "SELECT COUNT(*) FROM jobs WHERE id = $DEAF_JOB AND state = 6" 1 60
expect_exit 0 "why deaf" -- sy why "$DEAF_JOB"
expect_grep "why deaf" "of SIGTERM and was killed" "$WORK/out"

# The worker is healthy: alive, never charged, and it still runs jobs.
expect_exit 0 "workers" -- sy workers --output csv
"$PYTHON3" - "$WORK/out" <<'PY' || fail "workers: $(cat "$WORK/out")"
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["state"] != "gone"]
assert len(rows) == 1, rows
assert rows[0]["state"] == "alive" and rows[0]["env_errors"] == "0", rows
assert "own-trainer" in rows[0]["programs"].split(), rows
PY
kill -0 "$WORKER_PID" 2>/dev/null || fail "the worker died"
printf 'seed: 3\nepochs: 2\n' >"$WORK/after.yaml"; grep -v '^seed\|^epochs' "$HERE/long.yaml" >>"$WORK/after.yaml"
submit_and_watch "$WORK/after.yaml" 0
pass "the protocol breakers each have a cause; the worker stayed healthy"
finish
