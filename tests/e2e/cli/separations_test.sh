#!/usr/bin/env bash
# The separation tasks end to end (issue 16): a sweep over two tasks and two
# lengths runs to completion on a real coordinator, worker and trainer;
# results, export and the heatmap figure read it like any other sweep.
#   separations_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/lib.sh"
SWEEP_FILE="$SOURCE_DIR/tests/e2e/cli/separations.yaml"

start_coordinator
start_worker

submit_and_watch "$SWEEP_FILE" 0
expect_grep "watch" "4/4 ended (100.0%) | done 4" "$WORK/out"

# The trainer logged the usual metric names for every job.
for metric in accuracy loss eval_loss; do
  n=$(db "SELECT COUNT(DISTINCT m.job_id) FROM metrics m JOIN jobs j ON j.id = m.job_id
          JOIN metric_names n ON n.id = m.name_id WHERE j.sweep_id = $SWEEP AND n.name = '$metric'")
  [ "$n" = 4 ] || fail "'$metric' logged by $n of 4 jobs"
done

expect_exit 0 "results" -- sy results "$SWEEP" --group-by task,length --output csv
[ "$(csv_rows "$WORK/out")" = 4 ] || fail "results: not 4 rows: $(cat "$WORK/out")"
expect_grep "results" "dyck,6," "$WORK/out"

# The heatmap: one cell per (length, task), each with a mean over its seed.
expect_exit 0 "heatmap" -- sy figure "$SWEEP" --kind heatmap --x length --y task \
  --out "$WORK/heatmap.svg"
python3 - "$WORK/heatmap.svg" <<'PY' || fail "heatmap: wrong cells"
import sys, xml.etree.ElementTree as ET
cells = [e for e in ET.parse(sys.argv[1]).iter() if e.get("class") == "cell"]
assert len(cells) == 4, len(cells)
assert sorted((c.get("data-y"), c.get("data-x")) for c in cells) == [
    ("dyck", "4"), ("dyck", "6"), ("index_lookup", "4"), ("index_lookup", "6")], cells
for c in cells:
    assert c.get("data-n") == "1" and 0 <= float(c.get("data-mean")) <= 1, c.attrib
PY
pass "heatmap: 4 cells over length x task"
finish
