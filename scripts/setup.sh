#!/usr/bin/env bash
# Installs every Debian 12 package that Switchyard needs to build, test and run,
# then web/node_modules (npm ci --prefix web: uPlot for the dashboard,
# puppeteer-core for its browser test) unless it is already up to date.
# Idempotent, non-interactive; run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libabsl-dev libsqlite3-dev sqlite3 libyaml-cpp-dev nlohmann-json3-dev
  prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  libtorch-dev libopenblas0-openmp
  libdnnl-dev  # oneDNN sgemm header for the fused CPU kernels (worker/models/cpu_gemm.h)
  python3 python3-torch python3-yaml python3-optuna python3-pandas  # optuna, pandas: bench/compare
  slurm-wlm munge systemd python3-grpcio  # tests/e2e/slurm, tests/e2e/deploy
  procps psmisc openssl
  clang libclang-rt-14-dev  # tests/fuzz: libFuzzer harnesses (-fsanitize=fuzzer)
  chromium nodejs npm  # the dashboard: uPlot from npm (web/), tests/e2e/ui in Chromium
)
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# web/node_modules from web/package-lock.json (npm ci), skipped while the
# lockfile is the one it was installed from.
npm_ci() {
  local stamp="$ROOT/web/node_modules/.switchyard-package-lock.json"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$ROOT/web/package-lock.json"; then
    echo "setup: web/node_modules is up to date" >&2
    return 0
  fi
  echo "setup: npm ci --prefix web" >&2
  npm ci --prefix "$ROOT/web" --no-audit --no-fund >&2
  cp "$ROOT/web/package-lock.json" "$stamp"
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  # A nodejs from elsewhere (NodeSource) brings its own npm and conflicts with Debian's.
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed" >&2
  npm_ci
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
npm_ci
