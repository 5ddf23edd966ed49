#!/usr/bin/env bash
# deploy/systemd: `systemd-analyze verify` passes on both units (the worker as
# a template and as an instance) with no warning at all, the offline security
# review rates them OK, and the options the operations guide relies on are
# there.
#   systemd_units_test.sh [BIN_DIR]
# ExecStart names /usr/local/bin, where nothing is installed on a test
# machine; verify insists that the programs exist, so the units are checked
# in a copy whose paths point at BIN_DIR (the build's bin folder) or, for
# programs not built, at stand-in executables.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
UNITS=$(cd "$HERE/../../../deploy/systemd" && pwd)
BIN_DIR=${1:-}
if [ -n "$BIN_DIR" ]; then BIN_DIR=$(cd "$BIN_DIR" && pwd); fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd >/dev/null 2>&1
  fi
  command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: no systemd-analyze (apt-get install systemd)"; exit 77; }
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mkdir -p "$WORK/bin" "$WORK/units"
for prog in switchyard-coordinator switchyard-worker switchyard-train; do
  if [ -n "$BIN_DIR" ] && [ -x "$BIN_DIR/$prog" ]; then
    ln -s "$BIN_DIR/$prog" "$WORK/bin/$prog"
  else
    printf '#!/bin/sh\nexit 0\n' >"$WORK/bin/$prog"
    chmod +x "$WORK/bin/$prog"
  fi
done
for unit in switchyard-coordinator.service switchyard-worker@.service; do
  [ -f "$UNITS/$unit" ] || { fail "no deploy/systemd/$unit"; continue; }
  sed "s#/usr/local/bin/#$WORK/bin/#g" "$UNITS/$unit" >"$WORK/units/$unit"
done
cp "$WORK/units/switchyard-worker@.service" "$WORK/units/switchyard-worker@0.service"

cd "$WORK/units" || exit 1
export SYSTEMD_LOG_LEVEL=notice  # warnings (unknown keys, bad values) and errors
for unit in switchyard-coordinator.service switchyard-worker@.service switchyard-worker@0.service; do
  out=$(systemd-analyze verify "./$unit" 2>&1)
  code=$?
  [ $code -eq 0 ] || fail "systemd-analyze verify $unit: exit $code: $out"
  # Lines about the host (no running systemd in a container) are not ours.
  ours=$(printf '%s\n' "$out" | grep -F -e "$unit" -e "$WORK" || true)
  [ -z "$ours" ] || fail "systemd-analyze verify $unit warned: $ours"
done

# The offline security review ("exposure", 0 = locked down, 10 = none).
exposure() {
  systemd-analyze security --offline=yes "./$1" 2>/dev/null |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
for pair in switchyard-coordinator.service:2.0 switchyard-worker@0.service:3.0; do
  unit=${pair%%:*} limit=${pair##*:}
  level=$(exposure "$unit")
  if [ -z "$level" ]; then
    echo "note: systemd-analyze security --offline gave no level for $unit (older systemd?)"
  elif ! awk -v a="$level" -v b="$limit" 'BEGIN { exit !(a <= b) }'; then
    fail "$unit: exposure $level, want at most $limit"
  fi
done

# What docs/operations.md relies on.
need() {  # need UNIT LINE-REGEX WHY
  grep -Eq "^$2" "$UNITS/$1" || fail "$1: no line matching '^$2' ($3)"
}
for unit in switchyard-coordinator.service switchyard-worker@.service; do
  need "$unit" 'User=switchyard$' "a dedicated user"
  need "$unit" 'StateDirectory=switchyard' "state under /var/lib"
  need "$unit" 'NoNewPrivileges=yes' "hardening"
  need "$unit" 'ProtectSystem=strict' "hardening"
  need "$unit" 'PrivateTmp=yes' "hardening"
  need "$unit" 'ProtectHome=yes' "hardening"
  need "$unit" 'CapabilityBoundingSet=$' "no capabilities"
  need "$unit" 'Restart=on-failure' "restart policy"
  need "$unit" 'WantedBy=multi-user.target' "enable"
done
need switchyard-coordinator.service 'ExecStart=/usr/local/bin/switchyard-coordinator --data-dir /var/lib/switchyard ' "data dir = StateDirectory"
need switchyard-worker@.service 'KillMode=mixed' "SIGTERM to the daemon alone: it drains its trainers"
need switchyard-worker@.service 'LoadCredential=worker.token:' "the token reaches the service alone"
need switchyard-worker@.service 'ExecStart=.*--devices \$\{SWITCHYARD_DEVICES\}' "one instance per GPU group"
need switchyard-worker@.service 'Environment=SWITCHYARD_DEVICES=cuda:%i' "@N serves cuda:N"
stop=$(sed -n 's/^TimeoutStopSec=//p' "$UNITS/switchyard-worker@.service")
drain=$(sed -n 's/^Environment=SWITCHYARD_DRAIN_TIMEOUT=//p' "$UNITS/switchyard-worker@.service")
if [ -z "$stop" ] || [ -z "$drain" ] || [ "$stop" -le "$drain" ]; then
  fail "worker: TimeoutStopSec ($stop) must exceed the drain timeout ($drain)"
fi
grep -Eq '^u switchyard ' "$UNITS/switchyard.sysusers" || fail "switchyard.sysusers does not create the user"

if [ $failures -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "PASS"
