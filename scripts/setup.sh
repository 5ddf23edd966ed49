#!/usr/bin/env bash
# Installs every Debian 12 package that Switchyard needs to build, test and run.
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
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed" >&2
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
