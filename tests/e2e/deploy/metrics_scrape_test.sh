#!/usr/bin/env bash
# Scrapes the Prometheus endpoints of a real coordinator and a real worker
# (--metrics-listen) while a sweep runs and after it ends, and checks that
# the figures agree with what happened and with the database; then the bad
# --metrics-listen inputs.
#   metrics_scrape_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/../cli/lib.sh"

# A free loopback port (prometheus-cpp cannot bind port 0 and report it).
free_port() {
  "$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# scrape HOST:PORT FILE: the text of /metrics into FILE.
scrape() {
  "$PYTHON3" -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://" + sys.argv[1] + "/metrics", timeout=5).read().decode())' \
    "$1" >"$2" 2>"$WORK/scrape.err"
}
# value FILE SERIES: the value of one series (name with its labels, exactly).
value() { awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print "missing" }' "$1"; }
# expect_value WHAT FILE SERIES OP WANT: compares numerically (OP: -eq -ge -gt).
expect_value() {
  local got
  got=$(value "$2" "$3")
  if [ "$got" = missing ]; then fail "$1: $3 not in the scrape: $(head -c 400 "$2")"; return 1; fi
  got=${got%.*}
  [ "$got" "$4" "$5" ] || { fail "$1: $3 = $got, want $4 $5"; return 1; }
}

COORD_METRICS=127.0.0.1:$(free_port)
WORKER_METRICS=127.0.0.1:$(free_port)
start_coordinator --metrics-listen "$COORD_METRICS"
start_worker --metrics-listen "$WORKER_METRICS"

# 1. While the jobs run: a busy slot, samples/s reported by the trainer.
expect_exit 0 "submit" -- sy submit "$SOURCE_DIR/tests/e2e/deploy/metrics.yaml"
SWEEP=$(cat "$WORK/out")
seen_running=0
for _ in $(seq 1 300); do
  if scrape "$WORKER_METRICS" "$WORK/worker.prom"; then
    sps=$(value "$WORK/worker.prom" switchyard_worker_samples_per_second)
    running=$(value "$WORK/worker.prom" switchyard_worker_jobs_running)
    if [ "$running" != missing ] && [ "${running%.*}" -ge 1 ] && [ "$sps" != missing ] &&
      [ "$sps" != 0 ]; then
      seen_running=1
      break
    fi
  fi
  sleep 0.1
done
if [ "$seen_running" = 1 ]; then
  expect_value "worker while running" "$WORK/worker.prom" 'switchyard_worker_slots{state="busy"}' -ge 1
  expect_value "worker while running" "$WORK/worker.prom" switchyard_worker_coordinator_reachable -eq 1
  # The coordinator learns of busy slots from the next heartbeat (every 1 s).
  for _ in $(seq 1 50); do
    scrape "$COORD_METRICS" "$WORK/coord.prom" &&
      [ "$(value "$WORK/coord.prom" 'switchyard_slots{state="busy"}')" != 0 ] && break
    sleep 0.1
  done
  expect_value "coordinator while running" "$WORK/coord.prom" \
    "switchyard_jobs{sweep=\"$SWEEP\",state=\"running\"}" -ge 1
  expect_value "coordinator while running" "$WORK/coord.prom" 'switchyard_slots{state="busy"}' -ge 1
  expect_value "coordinator while running" "$WORK/coord.prom" 'switchyard_workers{state="alive"}' -eq 1
  pass "scraped both endpoints while jobs ran ($sps samples/s)"
else
  fail "never saw a running job with samples/s on the worker's endpoint: $(head -c 600 "$WORK/worker.prom")"
fi

# 2. After the sweep: the counters add up, and agree with the database.
expect_exit 0 "watch" -- timeout 300 "$SWITCHYARD" --coordinator "$COORD_ADDR" \
  --token-file "$DATA_DIR/client.token" watch "$SWEEP"
# The worker's counters move when the trainer's slot is free again.
for _ in $(seq 1 50); do
  scrape "$WORKER_METRICS" "$WORK/worker.prom" &&
    [ "$(value "$WORK/worker.prom" 'switchyard_worker_attempts_ended_total{how="succeeded"}')" = 2 ] && break
  sleep 0.1
done
expect_value "worker after" "$WORK/worker.prom" 'switchyard_worker_attempts_ended_total{how="succeeded"}' -eq 2
expect_value "worker after" "$WORK/worker.prom" 'switchyard_worker_attempts_ended_total{how="failed"}' -eq 0
expect_value "worker after" "$WORK/worker.prom" switchyard_worker_jobs_claimed_total -eq 2
expect_value "worker after" "$WORK/worker.prom" switchyard_worker_jobs_running -eq 0
expect_value "worker after" "$WORK/worker.prom" switchyard_worker_metric_upload_backlog_batches -eq 0
expect_value "worker after" "$WORK/worker.prom" switchyard_worker_checkpoint_upload_backlog -eq 0
expect_value "worker after" "$WORK/worker.prom" 'switchyard_worker_slots{state="free"}' -eq 2

scrape "$COORD_METRICS" "$WORK/coord.prom" || fail "coordinator scrape: $(cat "$WORK/scrape.err")"
points=$(db "SELECT COUNT(*) FROM metrics")
checkpoints=$(db "SELECT COUNT(*) FROM checkpoints")
expect_value "coordinator after" "$WORK/coord.prom" "switchyard_jobs{sweep=\"$SWEEP\",state=\"succeeded\"}" -eq 2
expect_value "coordinator after" "$WORK/coord.prom" "switchyard_jobs{sweep=\"$SWEEP\",state=\"running\"}" -eq 0
expect_value "coordinator after" "$WORK/coord.prom" 'switchyard_claims_total{result="job"}' -eq 2
expect_value "coordinator after" "$WORK/coord.prom" switchyard_metric_points_ingested_total -eq "$points"
expect_value "coordinator after" "$WORK/coord.prom" switchyard_metric_points_ingested_total -gt 0
expect_value "coordinator after" "$WORK/coord.prom" switchyard_checkpoints_stored_total -ge "$checkpoints"
expect_value "coordinator after" "$WORK/coord.prom" switchyard_lease_expiries_total -eq 0
expect_value "coordinator after" "$WORK/coord.prom" switchyard_write_transaction_seconds_count -gt 0
expect_value "coordinator after" "$WORK/coord.prom" switchyard_database_bytes -gt 0
pass "counters after the sweep ($points points, $checkpoints checkpoints kept)"

# 3. Bad --metrics-listen: clear errors, non-zero exits.
expect_exit 2 "worker --metrics-listen without a port" -- "$BIN_DIR/switchyard-worker" \
  --coordinator "$COORD_ADDR" --token-file "$DATA_DIR/worker.token" --devices cpu \
  --work-dir "$WORK/worker-bad" --metrics-listen localhost
expect_grep "worker --metrics-listen without a port" "--metrics-listen: expected HOST:PORT" "$WORK/err"
expect_exit 1 "worker --metrics-listen on a taken port" -- timeout 20 "$BIN_DIR/switchyard-worker" \
  --coordinator "$COORD_ADDR" --token-file "$DATA_DIR/worker.token" --devices cpu \
  --work-dir "$WORK/worker-bad" --metrics-listen "$COORD_METRICS"
expect_grep "worker --metrics-listen on a taken port" "--metrics-listen $COORD_METRICS" "$WORK/err"
expect_exit 1 "coordinator --metrics-listen on a taken port" -- timeout 20 \
  "$BIN_DIR/switchyard-coordinator" --data-dir "$WORK/coordinator-bad" --listen 127.0.0.1:0 \
  --metrics-listen "$WORKER_METRICS"
expect_grep "coordinator --metrics-listen on a taken port" "--metrics-listen $WORKER_METRICS" "$WORK/err"
pass "bad --metrics-listen values are refused"

finish
