#!/usr/bin/env bash
# A whole sweep through the CLI against a real coordinator and worker:
# submit, watch (piped, stopped and started again), status, jobs, workers,
# why, results, export (its rows against the database), and both figures
# (parsed as XML, their numbers against the results table).
#   cli_sweep_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/lib.sh"
TINY="$SOURCE_DIR/tests/e2e/cli/tiny.yaml"

start_coordinator
start_worker

# 1. submit: the id alone on stdout, the words on stderr.
expect_exit 0 "dry run" -- sy submit "$TINY" --dry-run
expect_grep "dry run" "12 cells in sweep 'e2e-tiny'" "$WORK/out"
[ "$(db "SELECT COUNT(*) FROM sweeps")" = 0 ] || fail "the dry run created a sweep"
expect_exit 0 "submit" -- sy submit "$TINY"
grep -qE '^[0-9]+$' "$WORK/out" && [ "$(wc -l <"$WORK/out")" = 1 ] ||
  fail "submit: stdout is not the id alone: '$(cat "$WORK/out")'"
SWEEP=$(cat "$WORK/out")
expect_grep "submit" "submitted sweep $SWEEP 'e2e-tiny' with 12 jobs" "$WORK/err"
[ "$(db "SELECT COUNT(*) FROM jobs WHERE sweep_id = $SWEEP")" = 12 ] || fail "submit: not 12 jobs in the database"
pass "submit printed sweep id $SWEEP"

# 2. watch, piped: stop it once something runs, start it again until the end.
sy watch "$SWEEP" >"$WORK/watch1" 2>&1 &
WATCH_PID=$!
wait_for_sql "SELECT COUNT(*) FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE j.sweep_id = $SWEEP" 1 120
sleep 1
kill -INT "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
grep -q "^sweep $SWEEP: " "$WORK/watch1" || fail "first watch printed no progress line: $(cat "$WORK/watch1")"
expect_exit 0 "watch to the end" -- timeout 600 "$SWITCHYARD" --coordinator "$COORD_ADDR" \
  --token-file "$DATA_DIR/client.token" watch "$SWEEP"
cp "$WORK/out" "$WORK/watch2"
expect_grep "watch" "sweep $SWEEP: 12/12 ended (100.0%) | done 12 running 0 pending 0 failed 0 lost 0" "$WORK/watch2"
expect_grep "watch" "best accuracy so far:" "$WORK/watch2"
expect_grep "watch" "transformer  expressive" "$WORK/watch2"
grep -q $'\x1b' "$WORK/watch2" && fail "piped watch wrote terminal escapes"
grep -q "eta" "$WORK/watch2" || fail "watch: no ETA"
grep -q "elapsed" "$WORK/watch2" || fail "watch: no elapsed time"
pass "watch (piped, restarted) exited 0 after 12 succeeded jobs"

# A watch of a finished sweep ends at once, with the same verdict.
expect_exit 0 "watch finished" -- timeout 30 "$SWITCHYARD" --coordinator "$COORD_ADDR" \
  --token-file "$DATA_DIR/client.token" watch "$SWEEP"

# 3. status, jobs, workers, why.
expect_exit 0 "status" -- sy status "$SWEEP" --output csv
expect_grep "status" ",e2e-tiny,finished,0,12,12,0,0,0,0,0," "$WORK/out"
expect_exit 0 "status all" -- sy status
expect_grep "status all" "e2e-tiny" "$WORK/out"
expect_exit 0 "jobs" -- sy jobs "$SWEEP" --state succeeded --output csv
[ "$(csv_rows "$WORK/out")" = 12 ] || fail "jobs --state succeeded: not 12 rows"
JOB=$(sed -n '2s/,.*//p' "$WORK/out")
expect_exit 0 "jobs --state failed" -- sy jobs "$SWEEP" --state failed --output csv
[ "$(csv_rows "$WORK/out")" = 0 ] || fail "jobs --state failed: expected the header only"
expect_exit 0 "workers" -- sy workers --output csv
expect_grep "workers" ",e2e-worker," "$WORK/out"
expect_grep "workers" ",alive," "$WORK/out"
expect_grep "workers" ",2,cpux2," "$WORK/out"
expect_exit 0 "why" -- sy why "$JOB"
expect_grep "why" "job $JOB (sweep $SWEEP" "$WORK/out"
expect_grep "why" "is succeeded" "$WORK/out"
expect_grep "why" "e2e-worker" "$WORK/out"
pass "status, jobs, workers, why"

# 4. results, export, figures, checked against each other and the database.
expect_exit 0 "results" -- sy results "$SWEEP" --output csv
cp "$WORK/out" "$WORK/results.csv"
expect_exit 0 "results by model" -- sy results "$SWEEP" --group-by model,attention --output csv
cp "$WORK/out" "$WORK/results-ma.csv"
expect_exit 0 "results table" -- sy results "$SWEEP"
expect_grep "results table" "model        attention   tasks  metric      mean     std  n" "$WORK/out"
expect_exit 0 "export" -- sy export "$SWEEP" --out "$WORK/export.csv"
rows=$(csv_rows "$WORK/export.csv")
in_db=$(db "SELECT COUNT(*) FROM metrics m JOIN jobs j ON j.id = m.job_id WHERE j.sweep_id = $SWEEP")
[ "$rows" = "$in_db" ] || fail "export: $rows rows, the database holds $in_db metric rows"
[ "$rows" -gt 0 ] || fail "export: no rows"
expect_grep "export" "wrote $rows metric points of sweep $SWEEP" "$WORK/err"
pass "export: $rows rows = the database's metric rows"
expect_exit 0 "figure curves" -- sy figure "$SWEEP" --kind curves --out "$WORK/curves.svg"
expect_exit 0 "figure bars" -- sy figure "$SWEEP" --kind bars --out "$WORK/bars.svg"
expect_exit 1 "figure bad kind" -- sy figure "$SWEEP" --kind pie --out "$WORK/x.svg"

"$PYTHON3" - "$WORK" <<'PY' || fail "the figures, results and export do not agree (see above)"
import csv, math, sys, xml.etree.ElementTree as ET
work = sys.argv[1]
SVG = "{http://www.w3.org/2000/svg}"
problems = []

def rows(name):
    with open(f"{work}/{name}", newline="") as f:
        return list(csv.DictReader(f))

results = {(r["model"], r["attention"], r["tasks"]): r for r in rows("results.csv")}
by_ma = {(r["model"], r["attention"]): r for r in rows("results-ma.csv")}
export = rows("export.csv")

# The results table from the export: the value at each job's last step.
last = {}
for r in export:
    if r["name"] != "accuracy":
        continue
    key = r["job"]
    if key not in last or int(r["step"]) > last[key][0]:
        last[key] = (int(r["step"]), float(r["value"]), (r["model"], r["attention"], r["tasks"]))
groups = {}
for step, value, key in last.values():
    groups.setdefault(key, []).append(value)
if set(groups) != set(results):
    problems.append(f"groups differ: export {sorted(groups)} results {sorted(results)}")
for key, values in groups.items():
    r = results.get(key)
    if r is None:
        continue
    mean = sum(values) / len(values)
    if abs(mean - float(r["mean"])) > 1e-9 or int(r["n"]) != len(values):
        problems.append(f"{key}: export mean {mean} n {len(values)}, results {r['mean']} n {r['n']}")
    if len(values) > 1:
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        if abs(sd - float(r["std"])) > 1e-9:
            problems.append(f"{key}: export sd {sd}, results {r['std']}")

def parse(name):
    tree = ET.parse(f"{work}/{name}")  # raises on malformed XML
    root = tree.getroot()
    if root.tag != SVG + "svg":
        problems.append(f"{name}: root is {root.tag}")
    texts = [t.text or "" for t in root.iter(SVG + "text")]
    if root.find(SVG + "title") is None:
        problems.append(f"{name}: no <title>")
    return root, texts

bars, texts = parse("bars.svg")
if "task subset" not in texts or "IARC" not in texts or "IA" not in texts:
    problems.append(f"bars.svg: axis labels missing: {texts}")
seen = set()
for rect in bars.iter(SVG + "rect"):
    if rect.get("class") != "bar":
        continue
    key = (rect.get("data-model"), rect.get("data-attention"), rect.get("data-tasks"))
    seen.add(key)
    r = results.get(key)
    if r is None:
        problems.append(f"bars.svg: bar {key} is not in the results table")
        continue
    if rect.get("data-mean") != r["mean"] or rect.get("data-std") != r["std"] or rect.get("data-n") != r["n"]:
        problems.append(f"bars.svg: bar {key} says {rect.get('data-mean')}/{rect.get('data-std')}/{rect.get('data-n')}, "
                        f"results say {r['mean']}/{r['std']}/{r['n']}")
if seen != set(results):
    problems.append(f"bars.svg: bars {sorted(seen)} != results groups {sorted(results)}")

curves, texts = parse("curves.svg")
if "epoch" not in texts or "accuracy" not in texts:
    problems.append(f"curves.svg: axis labels missing")
series = [g for g in curves.iter(SVG + "g") if g.get("class") == "series"]
if len(series) != 3:
    problems.append(f"curves.svg: {len(series)} series, want 3 (mlp, transformer x 2)")
for g in series:
    key = (g.get("data-model"), g.get("data-attention"), g.get("data-tasks"))
    if key[2] != "IARC":
        problems.append(f"curves.svg: series {key} is not on IARC")
    points = [c for c in g.iter(SVG + "circle") if c.get("class") == "point"]
    xs = [float(c.get("data-x")) for c in points]
    if xs != [1.0, 2.0, 3.0]:
        problems.append(f"curves.svg: {key} has x {xs}, want epochs 1 2 3")
    r = results.get(key)
    final = points[-1] if points else None
    if r is None or final is None or final.get("data-mean") != r["mean"] or final.get("data-n") != r["n"]:
        problems.append(f"curves.svg: {key} ends at {final.attrib if final is not None else None}, "
                        f"results say {r}")
    # The curve's other points are means over seeds of the export's values.
    for c in points:
        epoch_steps = {}
        for row in export:
            if row["name"] == "epoch" and (row["model"], row["attention"], row["tasks"]) == key \
                    and float(row["value"]) == float(c.get("data-x")):
                epoch_steps.setdefault(row["job"], row["step"])
        values = [float(row["value"]) for row in export
                  if row["name"] == "accuracy" and epoch_steps.get(row["job"]) == row["step"]]
        if not values or abs(sum(values) / len(values) - float(c.get("data-mean"))) > 1e-9:
            problems.append(f"curves.svg: {key} at x {c.get('data-x')}: {c.get('data-mean')} vs export {values}")

for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
PY
pass "figures parse as XML and their points match the results table and the export"

finish
