#!/usr/bin/env bash
# The CLI's refusals against a real coordinator (no worker needed): every bad
# sweep file (exit 1, file:line:column), an unreachable coordinator (exit 3),
# a wrong token (exit 2), no token and bad usage (exit 1), unknown ids
# (exit 2), and `sample` (output shape and errors naming the option).
#   cli_errors_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/lib.sh"

start_coordinator

# 1. Every bad sweep file: exit 1, the file's path and a line:column first,
#    and nothing reaches the coordinator.
count=0
for file in "$SOURCE_DIR"/tests/data/sweeps/bad/*.yaml; do
  count=$((count + 1))
  name=$(basename "$file")
  expect_exit 1 "submit $name" -- sy submit "$file" || continue
  if [ -s "$WORK/out" ]; then fail "submit $name: printed on stdout: $(cat "$WORK/out")"; fi
  if [ "$name" = empty_file.yaml ]; then
    pattern="^switchyard: $file: the file is empty"
  else
    pattern="^switchyard: $file:[0-9]+:[0-9]+: [a-z_]*:? ?.+"
  fi
  grep -qE "$pattern" "$WORK/err" || fail "submit $name: message '$(cat "$WORK/err")' does not match $pattern"
  # The dry run refuses it the same way.
  expect_exit 1 "submit --dry-run $name" -- sy submit --dry-run "$file"
done
[ "$count" -ge 12 ] || fail "only $count bad sweep files"
sweeps=$(db "SELECT COUNT(*) FROM sweeps")
[ "$sweeps" = 0 ] || fail "bad sweep files created $sweeps sweeps"
pass "$count bad sweep files refused with exit code 1 and file:line:column"

# Some messages in full, as a user reads them.
expect_exit 1 "unknown key" -- sy submit "$SOURCE_DIR/tests/data/sweeps/bad/unknown_key.yaml"
expect_grep "unknown key" ":2:1: modle: unknown key; did you mean 'model'?" "$WORK/err"
expect_exit 1 "unknown model" -- sy submit "$SOURCE_DIR/tests/data/sweeps/bad/unknown_model.yaml"
expect_grep "unknown model" ":2:14: model: unknown value 'lstn'; known: mlp, lstm, transformer, cisformer" "$WORK/err"
expect_exit 1 "too many cells" -- sy submit "$SOURCE_DIR/tests/data/sweeps/bad/too_many_cells.yaml"
expect_grep "too many cells" "the grid has 125000 cells, more than the 100000 allowed" "$WORK/err"

# 2. Unreachable coordinator: exit 3, for every command that needs one.
for args in "status" "workers" "jobs 1" "submit $SOURCE_DIR/examples/quick.yaml"; do
  # shellcheck disable=SC2086
  expect_exit 3 "unreachable: $args" -- "$SWITCHYARD" --coordinator 127.0.0.1:1 \
    --token-file "$DATA_DIR/client.token" --timeout 2 $args &&
    expect_grep "unreachable: $args" "cannot reach the coordinator at 127.0.0.1:1" "$WORK/err"
done
pass "unreachable coordinator: exit 3"

# 3. Wrong tokens: exit 2 with the coordinator's message.
expect_exit 2 "wrong token" -- env SWITCHYARD_TOKEN=0123456789abcdef "$SWITCHYARD" --coordinator "$COORD_ADDR" status
grep -q "^switchyard: ." "$WORK/err" || fail "wrong token: no message: $(cat "$WORK/err")"
expect_exit 2 "worker token as client token" -- "$SWITCHYARD" --coordinator "$COORD_ADDR" \
  --token-file "$DATA_DIR/worker.token" status
expect_exit 1 "no token" -- env -u SWITCHYARD_TOKEN "$SWITCHYARD" --coordinator "$COORD_ADDR" status
expect_grep "no token" "no token: pass --token-file" "$WORK/err"
pass "wrong token: exit 2; no token: exit 1"

# 4. The environment names the coordinator and carries the token.
expect_exit 0 "env" -- env SWITCHYARD_COORDINATOR="$COORD_ADDR" SWITCHYARD_TOKEN="$(cat "$DATA_DIR/client.token")" \
  "$SWITCHYARD" status
expect_grep "env" "id  name  state" "$WORK/out"
expect_exit 0 "workers, none yet" -- sy workers --output csv
[ "$(wc -l <"$WORK/out")" = 1 ] || fail "workers: expected only the header, got $(cat "$WORK/out")"
pass "SWITCHYARD_COORDINATOR and SWITCHYARD_TOKEN"

# 5. Unknown ids are the coordinator's errors (exit 2); malformed ones are ours (exit 1).
expect_exit 2 "status 999" -- sy status 999
expect_grep "status 999" "999" "$WORK/err"
expect_exit 2 "why 999" -- sy why 999
expect_exit 2 "cancel 999" -- sy cancel 999
expect_exit 1 "status abc" -- sy status abc
expect_exit 1 "cancel nonsense" -- sy cancel job/x
pass "unknown ids: exit 2; malformed ids: exit 1"

# 6. Bad usage: exit 1 and a hint.
expect_exit 1 "unknown command" -- sy stauts
expect_grep "unknown command" "did you mean 'status'?" "$WORK/err"
expect_exit 1 "unknown flag" -- sy results 1 --metrik loss
expect_grep "unknown flag" "did you mean --metric?" "$WORK/err"
expect_exit 1 "bad --output" -- sy status --output yaml
expect_exit 1 "bad --coordinator" -- "$SWITCHYARD" --coordinator nowhere status
expect_exit 0 "help" -- "$SWITCHYARD" --help
expect_grep "help" "exit codes:" "$WORK/out"
for command in submit status jobs watch cancel retry why results export figure workers sample; do
  expect_exit 0 "$command --help" -- "$SWITCHYARD" "$command" --help
  expect_grep "$command --help" "usage: switchyard $command" "$WORK/out"
done
pass "bad usage: exit 1; --help for every command"

# 7. sample: count streams of length tokens; errors name the option.
expect_exit 0 "sample" -- "$SWITCHYARD" sample --tasks IARC --seed 7 --count 20 --length 120
[ "$(wc -l <"$WORK/out")" = 20 ] || fail "sample: $(wc -l <"$WORK/out") lines, want 20"
awk 'NF != 120 { bad = 1 } END { exit bad }' "$WORK/out" || fail "sample: a line without 120 tokens"
grep -qvE '^([0-9]+|[IARC])( ([0-9]+|[IARC]))*$' "$WORK/out" && fail "sample: a token that is neither a number nor I A R C"
head -c 2 "$WORK/out" | grep -qE '^[0-9]' || fail "sample: a stream does not start with a seed number"
cp "$WORK/out" "$WORK/sample1"
"$SWITCHYARD" sample --tasks IARC --seed 7 --count 20 --length 120 >"$WORK/sample2"
cmp -s "$WORK/sample1" "$WORK/sample2" || fail "sample: not deterministic"
expect_exit 0 "sample IA" -- "$SWITCHYARD" sample --tasks IA --seed 1 --count 3 --length 50 --d 12 --switch-min 4 --switch-max 6
grep -q "[RC]" "$WORK/out" && fail "sample --tasks IA printed R or C"
for bad in "--tasks C" "--tasks IX" "--tasks=" "--count abc" "--length 0" "--seed -1" "--d x" \
           "--switch-min 1" "--switch-max 2"; do
  flag=${bad%% *}
  flag=${flag%%=*}
  # shellcheck disable=SC2086
  expect_exit 1 "sample $bad" -- "$SWITCHYARD" sample $bad &&
    expect_grep "sample $bad" "switchyard: $flag:" "$WORK/err"
done
pass "sample"

# A random search goes over the wire whole: the coordinator draws the same
# trials the dry run shows (2 grid cells x 9 trials), inside their bounds.
cat >"$WORK/search.yaml" <<'YAML'
name: search
model: lstm
layers: [1, 2]
lr: {log_uniform: [1.0e-4, 3.0e-2]}
batch_size: {choice: [16, 32, 64]}
search: {method: random, trials: 9, seed: 11}
epochs: 0
YAML
expect_exit 0 "dry-run search" -- sy --output json submit --dry-run "$WORK/search.yaml"
dry_lr=$("$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["cells"], repr(d["first"][0]["lr"]))' "$WORK/out")
expect_exit 0 "submit search" -- sy submit "$WORK/search.yaml"
SEARCH=$(cat "$WORK/out")
got=$(db "SELECT COUNT(*) || ' ' || (SELECT json_extract(config_json, '\$.lr') FROM jobs WHERE sweep_id = $SEARCH AND cell_index = 0)
          FROM jobs WHERE sweep_id = $SEARCH")
# SQLite reads a JSON number to within an ulp or so; the draws agree far closer than 1e-12.
"$PYTHON3" -c 'import sys; a, b = sys.argv[1].split(), sys.argv[2].split()
assert a[0] == b[0] and abs(float(a[1]) - float(b[1])) <= 1e-12 * float(b[1]), (a, b)' "$got" "$dry_lr" ||
  fail "search: the coordinator has (jobs, first lr) '$got', the dry run '$dry_lr'"
bad=$(db "SELECT COUNT(*) FROM jobs WHERE sweep_id = $SEARCH AND (json_extract(config_json, '\$.lr') < 1e-4
          OR json_extract(config_json, '\$.lr') >= 3e-2 OR json_extract(config_json, '\$.batch_size') NOT IN (16, 32, 64))")
[ "$bad" = 0 ] || fail "search: $bad jobs drew outside their distributions"
[ "$(db "SELECT COUNT(DISTINCT json_extract(config_json, '\$.lr')) FROM jobs WHERE sweep_id = $SEARCH")" = 9 ] ||
  fail "search: not 9 distinct learning rates"
pass "random search: the coordinator's trials are the dry run's"

finish
