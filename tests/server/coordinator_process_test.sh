#!/usr/bin/env bash
# The switchyard-coordinator process: start-up line, tokens, clean shutdown,
# refusal of bad flags, of a database newer than the binary and of a second
# coordinator on one data dir.
#   coordinator_process_test.sh PATH/TO/switchyard-coordinator
set -u
BIN=$1
WORK=$(mktemp -d)
PID=""
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Starts the coordinator on DATA_DIR with a free port; sets PID and ADDRESS.
start() {
  local data_dir=$1
  shift
  rm -f "$WORK/out" "$WORK/err"
  "$BIN" --data-dir "$data_dir" --listen 127.0.0.1:0 "$@" >"$WORK/out" 2>"$WORK/err" &
  PID=$!
  for _ in $(seq 1 100); do
    if [ -s "$WORK/out" ]; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  ADDRESS=$(sed -n 's/^listening on //p' "$WORK/out" | head -1)
}

stop() {
  kill -TERM "$PID"
  local waited=0
  while kill -0 "$PID" 2>/dev/null && [ $waited -lt 100 ]; do sleep 0.05; waited=$((waited + 1)); done
  if kill -0 "$PID" 2>/dev/null; then fail "no exit within 5 s of SIGTERM"; kill -9 "$PID"; fi
  wait "$PID"
  STOP_CODE=$?
  PID=""
}

# 1. First start: the listening line with a real port, tokens of mode 0600.
start "$WORK/data"
case "$ADDRESS" in
  127.0.0.1:0|"") fail "first stdout line is not 'listening on HOST:PORT' with a real port: $(cat "$WORK/out")" ;;
  127.0.0.1:*) ;;
  *) fail "unexpected address '$ADDRESS'" ;;
esac
for token in client worker; do
  f="$WORK/data/$token.token"
  [ -s "$f" ] || fail "$f was not created"
  mode=$(stat -c %a "$f" 2>/dev/null)
  [ "$mode" = "600" ] || fail "$f has mode $mode, want 600"
done
[ -f "$WORK/data/switchyard.db" ] || fail "the database DIR/switchyard.db was not created"
client_token=$(cat "$WORK/data/client.token")
stop
[ "$STOP_CODE" = 0 ] || fail "SIGTERM exit code $STOP_CODE, want 0"

# 2. A restart keeps the tokens; SIGINT also stops it cleanly.
start "$WORK/data"
[ -n "$ADDRESS" ] || fail "restart did not serve: $(cat "$WORK/err")"
[ "$(cat "$WORK/data/client.token")" = "$client_token" ] || fail "the client token changed on restart"
kill -INT "$PID"; wait "$PID"; code=$?; PID=""
[ "$code" = 0 ] || fail "SIGINT exit code $code, want 0"

# 3. Bad flags: exit 2 and a message naming the flag.
"$BIN" --listen 127.0.0.1:0 >/dev/null 2>"$WORK/err"; code=$?
[ "$code" = 2 ] || fail "missing --data-dir: exit $code, want 2"
grep -q -- "--data-dir is required" "$WORK/err" || fail "missing --data-dir: message was '$(cat "$WORK/err")'"
"$BIN" --data-dir "$WORK/data" --listen nonsense >/dev/null 2>"$WORK/err"; code=$?
[ "$code" = 2 ] || fail "bad --listen: exit $code, want 2"
grep -q -- "--listen" "$WORK/err" || fail "bad --listen: message was '$(cat "$WORK/err")'"
"$BIN" --data-dir "$WORK/data" --listen 127.0.0.1:0 --tls-cert /nonexistent.pem --tls-key /nonexistent.key \
  >/dev/null 2>"$WORK/err"; code=$?
[ "$code" != 0 ] || fail "missing TLS files: exit 0"
grep -q "/nonexistent.pem" "$WORK/err" || fail "missing TLS file: message was '$(cat "$WORK/err")'"
echo "   " > "$WORK/empty.token"
"$BIN" --data-dir "$WORK/data" --listen 127.0.0.1:0 --client-token-file "$WORK/empty.token" \
  >/dev/null 2>"$WORK/err"; code=$?
[ "$code" != 0 ] || fail "empty token file: exit 0"
grep -q "is empty" "$WORK/err" || fail "empty token file: message was '$(cat "$WORK/err")'"

# 4. A database from a newer coordinator is refused, and left as it was.
if command -v sqlite3 >/dev/null; then
  sqlite3 "$WORK/data/switchyard.db" "PRAGMA user_version = 999;"
  "$BIN" --data-dir "$WORK/data" --listen 127.0.0.1:0 >/dev/null 2>"$WORK/err"; code=$?
  [ "$code" != 0 ] || fail "newer database: exit 0"
  grep -q "newer than this coordinator" "$WORK/err" || fail "newer database: message was '$(cat "$WORK/err")'"
  [ "$(sqlite3 "$WORK/data/switchyard.db" "PRAGMA user_version;")" = 999 ] || fail "the newer database was changed"
else
  fail "sqlite3 is not installed"
fi

# 5. TLS: the server starts with a self-signed certificate.
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    -days 1 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
  start "$WORK/tls" --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
  [ -n "$ADDRESS" ] || fail "TLS start: $(cat "$WORK/err")"
  stop
fi

# 6. One coordinator per data dir: a second one on the same folder, started
#    while the first serves, exits 1 naming the holder's pid and host; the
#    first keeps serving, and once it has stopped the folder can be taken.
start "$WORK/shared"
[ -n "$ADDRESS" ] || fail "first coordinator for the lock check did not serve: $(cat "$WORK/err")"
first=$PID
"$BIN" --data-dir "$WORK/shared" --listen 127.0.0.1:0 >"$WORK/out2" 2>"$WORK/err2"; code=$?
[ "$code" = 1 ] || fail "second coordinator on one data dir: exit $code, want 1"
grep -q "listening on" "$WORK/out2" && fail "the second coordinator served: $(cat "$WORK/out2")"
grep -q "is in use by another coordinator: pid $first on host $(hostname)" "$WORK/err2" ||
  fail "second coordinator: message was '$(cat "$WORK/err2")'"
kill -0 "$first" 2>/dev/null || fail "the first coordinator died when the second was refused"
stop
[ "$STOP_CODE" = 0 ] || fail "first coordinator: SIGTERM exit code $STOP_CODE after the refusal"
start "$WORK/shared"
[ -n "$ADDRESS" ] || fail "the data dir could not be taken after its holder stopped: $(cat "$WORK/err")"
stop

if [ $failures -eq 0 ]; then echo "coordinator process: all checks passed"; fi
exit $failures
