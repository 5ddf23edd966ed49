#!/usr/bin/env bash
# The dashboard in a real browser: a real coordinator, a real worker and a
# real `switchyard ui` on loopback ports of their own, Chromium driven by
# puppeteer-core (ui_test.mjs: the checks, (a) to (f)).
#   ui_test.sh BIN_DIR
# Exits 77 (ctest SKIP_RETURN_CODE) when Chromium, node or web/node_modules
# is missing (scripts/setup.sh installs all three).
# UI_SCREENSHOTS_DIR=docs/images copies ui-sweeps.png and ui-sweep.png there;
# UI_ARTIFACTS_DIR keeps every screenshot (the work folder is removed).
# UI_PAGE_FROM_SOURCE=1 puts web/dev/mock_server.mjs --proxy in front of the
# real server, so that the page comes from web/src as it is on disk rather
# than from the copy built into switchyard (for working on the page only).
BIN_DIR=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
for need in "$CHROMIUM" "$ROOT/web/node_modules/puppeteer-core/package.json" "$ROOT/web/node_modules/uplot/dist/uPlot.iife.min.js"; do
  if [ ! -e "$need" ]; then
    echo "SKIP: $need is missing; run scripts/setup.sh (installs chromium, nodejs, npm and runs npm ci --prefix web)"
    exit 77
  fi
done
if ! command -v node >/dev/null; then
  echo "SKIP: node is missing; run scripts/setup.sh"
  exit 77
fi
. "$ROOT/tests/e2e/cli/lib.sh"
UI_PID=""
PROXY_PID=""
ui_cleanup() {
  [ -n "$PROXY_PID" ] && kill -TERM "$PROXY_PID" 2>/dev/null
  if [ -n "$UI_PID" ]; then
    kill -TERM "$UI_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$UI_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$UI_PID" 2>/dev/null
    if [ "$failures" -gt 0 ]; then echo "--- ui log (tail)"; tail -n 30 "$WORK/ui.log" 2>/dev/null; fi
  fi
  if [ -n "${UI_ARTIFACTS_DIR:-}" ] && [ -d "$WORK/screenshots" ]; then
    mkdir -p "$UI_ARTIFACTS_DIR" && cp "$WORK"/screenshots/*.png "$UI_ARTIFACTS_DIR"/ 2>/dev/null
    echo "screenshots kept in $UI_ARTIFACTS_DIR"
  fi
  cleanup
}
trap ui_cleanup EXIT

start_coordinator
start_worker

# The demo sweep, to its end; the hostile name; then the live sweep, running.
submit_and_watch "$ROOT/tests/e2e/cli/tiny.yaml" 0
DEMO=$SWEEP
expect_exit 0 "submit xss.yaml" -- sy submit "$HERE/xss.yaml"
expect_exit 0 "submit live.yaml" -- sy submit "$HERE/live.yaml"
LIVE=$(cat "$WORK/out")
wait_for_sql "SELECT COUNT(*) FROM jobs WHERE sweep_id = $LIVE AND state = 2" 1 120 || finish

"$SWITCHYARD" --coordinator "$COORD_ADDR" --token-file "$DATA_DIR/client.token" ui --listen 127.0.0.1:0 \
  >"$WORK/ui.out" 2>"$WORK/ui.log" &
UI_PID=$!
UI_URL=""
for _ in $(seq 1 200); do
  UI_URL=$(sed -n 's/^serving on //p' "$WORK/ui.out" | head -1)
  [ -n "$UI_URL" ] && break
  kill -0 "$UI_PID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$UI_URL" ]; then
  fail "switchyard ui did not start: $(tail -n 5 "$WORK/ui.log")"
  finish
fi
echo "demo sweep $DEMO, live sweep $LIVE, ui at $UI_URL"
if [ -n "${UI_PAGE_FROM_SOURCE:-}" ]; then
  node "$ROOT/web/dev/mock_server.mjs" --port 0 --proxy "$UI_URL" >"$WORK/proxy.out" 2>"$WORK/proxy.log" &
  PROXY_PID=$!
  for _ in $(seq 1 100); do
    PROXY_URL=$(sed -n 's/^serving on //p' "$WORK/proxy.out" | head -1)
    [ -n "$PROXY_URL" ] && break
    sleep 0.05
  done
  echo "the page from web/src at $PROXY_URL, the rest from $UI_URL"
  UI_URL=$PROXY_URL
fi

if UI_URL="$UI_URL" UI_WORK="$WORK" UI_DEMO_NAME=e2e-tiny UI_LIVE_NAME=ui-live CHROMIUM="$CHROMIUM" \
    timeout 300 node "$HERE/ui_test.mjs"; then
  pass "browser checks"
else
  fail "browser checks (above)"
fi
finish
