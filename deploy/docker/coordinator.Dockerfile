# syntax=docker/dockerfile:1
# The Switchyard coordinator, with the switchyard CLI and sqlite3 (for online
# backups), on debian:12-slim; runs as an unprivileged user. From the
# repository root:
#   docker build -f deploy/docker/coordinator.Dockerfile -t switchyard-coordinator .
#   docker run -d --name switchyard -p 50051:50051 -v switchyard-data:/var/lib/switchyard switchyard-coordinator
#   docker exec switchyard switchyard --token-file /var/lib/switchyard/client.token workers
#   docker exec switchyard cat /var/lib/switchyard/client.token   # for clients elsewhere
# Extra flags go after the image name (--tls-cert ..., --metrics-listen 0.0.0.0:9470).
# Not built in this project's CI: its machines have no Docker engine
# (docs/operations.md). The packages are the ones scripts/setup.sh installs.

FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev libabsl-dev \
      libsqlite3-dev libyaml-cpp-dev nlohmann-json3-dev prometheus-cpp-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSWITCHYARD_BUILD_TRAINER=OFF -DSWITCHYARD_BUILD_TESTS=OFF -DSWITCHYARD_BUILD_BENCH=OFF \
 && cmake --build /build --target switchyard-coordinator switchyard \
 && strip /build/bin/switchyard-coordinator /build/bin/switchyard

FROM debian:12-slim
# Runtime libraries only; python3-grpcio serves the health check below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libsqlite3-0 libyaml-cpp0.7 \
      libprometheus-cpp-pull1.0 libssl3 ca-certificates sqlite3 python3-grpcio \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 switchyard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/switchyard \
      --shell /usr/sbin/nologin switchyard \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/switchyard
COPY --from=build /build/bin/switchyard-coordinator /build/bin/switchyard /usr/local/bin/
COPY deploy/docker/healthcheck.py /usr/local/bin/switchyard-healthcheck
USER 10001:10001
WORKDIR /var/lib/switchyard
VOLUME ["/var/lib/switchyard"]
EXPOSE 50051 9470
ENV SWITCHYARD_COORDINATOR=127.0.0.1:50051
# grpc.health.v1 Health/Check, which needs no token. With TLS on, replace it:
# HEALTHCHECK CMD ["switchyard-healthcheck", "HOST:50051", "--tls-ca", "/path/ca.pem"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/switchyard-healthcheck", "127.0.0.1:50051"]
# SIGTERM (docker stop) is a clean stop; give it the default 10 s or more.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/switchyard-coordinator", "--data-dir", "/var/lib/switchyard", "--listen", "0.0.0.0:50051"]
CMD []
