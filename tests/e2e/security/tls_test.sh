#!/usr/bin/env bash
# TLS end to end (issue 8): a CA made here with openssl, a coordinator serving
# TLS with a certificate it signed, a worker and the CLI trusting it with
# --tls-ca; a whole sweep runs. Then the refusals: a plaintext CLI, a CLI
# trusting another CA, a plaintext worker, a certificate for another name, and
# missing TLS files each fail cleanly (non-zero exit, a message naming the
# cause), and the coordinator keeps serving.
#   tls_test.sh BIN_DIR
BIN_DIR=$1
. "$(dirname "$0")/../cli/lib.sh"
SWEEP_FILE="$SOURCE_DIR/tests/e2e/security/tls.yaml"
PKI="$WORK/pki"
mkdir -p "$PKI"

# 1. A test CA, a certificate for 127.0.0.1 and localhost, a rogue CA, and a
#    certificate of the real CA for another name.
make_ca() {  # make_ca NAME
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$PKI/$1.key" -out "$PKI/$1.pem" -subj "/CN=$1" 2>>"$PKI/openssl.log"
}
make_cert() {  # make_cert NAME CA SAN
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "/CN=$1" 2>>"$PKI/openssl.log" &&
    printf 'subjectAltName=%s\n' "$3" >"$PKI/$1.ext" &&
    openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.pem" -CAkey "$PKI/$2.key" \
      -CAcreateserial -days 2 -out "$PKI/$1.pem" -extfile "$PKI/$1.ext" 2>>"$PKI/openssl.log"
}
make_ca test-ca && make_ca rogue-ca &&
  make_cert coordinator test-ca "IP:127.0.0.1,DNS:localhost" &&
  make_cert elsewhere test-ca "DNS:elsewhere.example" ||
  { fail "openssl could not make the test PKI: $(tail -n 5 "$PKI/openssl.log")"; finish; }
chmod 600 "$PKI"/*.key
pass "test CA and certificates made"

# Missing TLS files: the coordinator refuses to start, naming the file.
expect_exit 1 "missing key" -- "$BIN_DIR/switchyard-coordinator" --data-dir "$WORK/nokey" \
  --listen 127.0.0.1:0 --tls-cert "$PKI/coordinator.pem" --tls-key "$PKI/absent.key" &&
  expect_grep "missing key" "$PKI/absent.key" "$WORK/err"
expect_exit 1 "cert without key" -- "$BIN_DIR/switchyard-coordinator" --data-dir "$WORK/nokey" \
  --listen 127.0.0.1:0 --tls-cert "$PKI/coordinator.pem" &&
  expect_grep "cert without key" "--tls-cert and --tls-key go together" "$WORK/err"

start_coordinator --tls-cert "$PKI/coordinator.pem" --tls-key "$PKI/coordinator.key"
grep -q "(TLS)" "$WORK/coordinator.log" || fail "the coordinator log does not say TLS"
tls() { sy --tls-ca "$PKI/test-ca.pem" "$@"; }

# 2. The CLI over TLS: submit; a worker over TLS runs the sweep.
expect_exit 0 "submit over TLS" -- tls submit "$SWEEP_FILE"
SWEEP=$(cat "$WORK/out")
start_worker --tls-ca "$PKI/test-ca.pem" --name tls-worker
expect_exit 0 "watch over TLS" -- timeout 300 "$SWITCHYARD" --coordinator "$COORD_ADDR" \
  --token-file "$DATA_DIR/client.token" --tls-ca "$PKI/test-ca.pem" watch "$SWEEP"
expect_grep "watch over TLS" "2/2 ended (100.0%)" "$WORK/out"
[ "$(db "SELECT COUNT(*) FROM jobs WHERE sweep_id = $SWEEP AND state = 3")" = 2 ] ||
  fail "not both jobs succeeded: $(db "SELECT id, state, last_cause FROM jobs")"
points=$(db "SELECT COUNT(*) FROM metrics m JOIN jobs j ON j.id = m.job_id WHERE j.sweep_id = $SWEEP")
[ "$points" -gt 0 ] || fail "the worker streamed no metric over TLS"
expect_exit 0 "results over TLS" -- tls results "$SWEEP" --output csv
expect_grep "results over TLS" "mlp" "$WORK/out"
expect_exit 0 "workers over TLS" -- tls workers --output csv
expect_grep "workers over TLS" "tls-worker" "$WORK/out"
pass "a sweep of 2 jobs ran over TLS ($points metric points)"

# 3. Refusals, each with a non-zero exit and a message that names the cause:
#    one line of ours, not gRPC's own log lines.
own_message() {  # own_message WHAT
  [ "$(wc -l <"$WORK/err")" = 1 ] && grep -q '^switchyard: ' "$WORK/err" ||
    fail "$1: stderr is not one line of switchyard's: $(cat "$WORK/err")"
}
expect_exit 3 "plaintext CLI" -- sy --timeout 3 status &&
  expect_grep "plaintext CLI" "cannot reach the coordinator at $COORD_ADDR" "$WORK/err" &&
  expect_grep "plaintext CLI" "--tls-ca" "$WORK/err"
own_message "plaintext CLI"
echo "  plaintext CLI says: $(cat "$WORK/err")"
expect_exit 3 "CLI trusting another CA" -- sy --timeout 3 --tls-ca "$PKI/rogue-ca.pem" status &&
  expect_grep "CLI trusting another CA" "cannot reach the coordinator at $COORD_ADDR" "$WORK/err" &&
  expect_grep "CLI trusting another CA" "certificate" "$WORK/err"
own_message "CLI trusting another CA"
echo "  CLI with another CA says: $(cat "$WORK/err")"
expect_exit 1 "unreadable CA file" -- sy --tls-ca "$PKI/absent.pem" status &&
  expect_grep "unreadable CA file" "$PKI/absent.pem" "$WORK/err"
pass "plaintext CLI, wrong CA and a missing CA file refused"

# A certificate for another name: the coordinator serves it, the CLI refuses.
ELSEWHERE_DATA="$WORK/elsewhere"
"$BIN_DIR/switchyard-coordinator" --data-dir "$ELSEWHERE_DATA" --listen 127.0.0.1:0 \
  --tls-cert "$PKI/elsewhere.pem" --tls-key "$PKI/elsewhere.key" --sync normal \
  >"$WORK/elsewhere.out" 2>"$WORK/elsewhere.log" &
ELSEWHERE_PID=$!
COORD_PID="$COORD_PID $ELSEWHERE_PID"  # stopped by lib.sh's cleanup
ELSEWHERE_ADDR=""
for _ in $(seq 1 200); do
  ELSEWHERE_ADDR=$(sed -n 's/^listening on //p' "$WORK/elsewhere.out" | head -1)
  [ -n "$ELSEWHERE_ADDR" ] && break
  sleep 0.05
done
expect_exit 3 "certificate for another name" -- "$SWITCHYARD" --coordinator "$ELSEWHERE_ADDR" \
  --token-file "$ELSEWHERE_DATA/client.token" --tls-ca "$PKI/test-ca.pem" --timeout 3 status &&
  expect_grep "certificate for another name" "certificate" "$WORK/err"
own_message "certificate for another name"
echo "  CLI against a certificate for another name says: $(cat "$WORK/err")"
pass "a certificate for another name refused"

# A plaintext worker never registers; the TLS worker is the only one.
"$BIN_DIR/switchyard-worker" --coordinator "$COORD_ADDR" --token-file "$DATA_DIR/worker.token" \
  --devices cpu --slots-per-device 1 --threads-per-slot 1 --work-dir "$WORK/plain-worker" \
  --name plain-worker >"$WORK/plain-worker.out" 2>"$WORK/plain-worker.log" &
PLAIN_PID=$!
WORKER_PID="$WORKER_PID $PLAIN_PID"  # stopped by lib.sh's cleanup
sleep 4
kill -0 "$PLAIN_PID" 2>/dev/null || fail "the plaintext worker exited instead of retrying"
[ "$(db "SELECT COUNT(*) FROM workers WHERE name = 'plain-worker'")" = 0 ] ||
  fail "a plaintext worker registered with a TLS coordinator"
[ -s "$WORK/plain-worker.log" ] || fail "the plaintext worker logged nothing about its failure"
grep -qF -- "if it serves TLS, pass --tls-ca FILE" "$WORK/plain-worker.log" ||
  fail "the plaintext worker's log does not suggest --tls-ca: $(tail -n 3 "$WORK/plain-worker.log")"
echo "  plaintext worker logs: $(grep -v '^E' "$WORK/plain-worker.log" | tail -n 1)"
pass "a plaintext worker is not let in"

# 4. The coordinator still serves over TLS and its database is sound.
expect_exit 0 "status after the refusals" -- tls status "$SWEEP"
[ "$(db "PRAGMA integrity_check")" = ok ] || fail "integrity_check is not ok"
kill -0 "${COORD_PID%% *}" 2>/dev/null || fail "the coordinator died"
finish
