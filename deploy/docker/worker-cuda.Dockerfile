# syntax=docker/dockerfile:1
# A Switchyard worker for CUDA machines: switchyard-worker and a
# switchyard-train built against LibTorch's CUDA distribution, on
# debian:12-slim, as an unprivileged user. From the repository root:
#   docker build -f deploy/docker/worker-cuda.Dockerfile -t switchyard-worker-cuda .
#   docker run -d --gpus all -e SWITCHYARD_TOKEN=... switchyard-worker-cuda \
#     --coordinator coord.example.org:50051 --devices auto
# Needs the NVIDIA Container Toolkit on the host: it mounts the driver
# (libcuda, nvidia-smi) into the container. Everything else CUDA (runtime,
# cuBLAS, cuDNN) comes with LibTorch's "shared-with-deps" archive.
#
# The CUDA base. LIBTORCH_URL picks the LibTorch (cxx11 ABI, with deps); its
# CMake package needs a CUDA toolkit to configure, so the build stage
# installs Debian's nvidia-cuda-toolkit (11.8, non-free). The default is
# LibTorch 2.0.1 for CUDA 11.8 (sm_50 .. sm_90, so H100 too). For exactly
# the API of Debian's LibTorch 1.13.1, use .../cu117/libtorch-cxx11-abi-
# shared-with-deps-1.13.1%2Bcu117.zip (no native sm_90 kernels).
# Not built in this project's CI: no Docker engine and no GPU there
# (docs/operations.md).
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu118/libtorch-cxx11-abi-shared-with-deps-2.0.1%2Bcu118.zip

FROM debian:12-slim AS build
ARG LIBTORCH_URL
RUN sed -i 's/^Components: main$/Components: main contrib non-free non-free-firmware/' \
      /etc/apt/sources.list.d/debian.sources \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config curl unzip ca-certificates \
      libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev libabsl-dev \
      libsqlite3-dev libyaml-cpp-dev nlohmann-json3-dev prometheus-cpp-dev libssl-dev \
      nvidia-cuda-toolkit \
 && rm -rf /var/lib/apt/lists/*
RUN curl -fsSL "$LIBTORCH_URL" -o /tmp/libtorch.zip \
 && unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/libtorch.zip
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DTorch_DIR=/opt/libtorch/share/cmake/Torch \
      -DSWITCHYARD_BUILD_TESTS=OFF -DSWITCHYARD_BUILD_BENCH=OFF \
 && cmake --build /build --target switchyard-worker switchyard-train

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libssl3 libgomp1 ca-certificates \
      python3-grpcio \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 switchyard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/switchyard-worker \
      --shell /usr/sbin/nologin switchyard \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/switchyard-worker
COPY --from=build /opt/libtorch/lib /opt/libtorch/lib
COPY --from=build /build/bin/switchyard-worker /build/bin/switchyard-train /usr/local/bin/
# For readiness probes: can this worker reach its coordinator's health service?
COPY deploy/docker/healthcheck.py /usr/local/bin/switchyard-healthcheck
ENV LD_LIBRARY_PATH=/opt/libtorch/lib \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
WORKDIR /var/lib/switchyard-worker
# SIGTERM drains: trainers checkpoint, the jobs are handed back. Stop it with
# a grace period above --drain-timeout: docker stop -t 120 (compose:
# stop_grace_period; Kubernetes: terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/switchyard-worker", "--work-dir", "/var/lib/switchyard-worker", "--drain-timeout", "90"]
CMD ["--devices", "auto"]
