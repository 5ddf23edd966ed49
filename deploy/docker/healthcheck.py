#!/usr/bin/python3
"""grpc.health.v1 check of a Switchyard coordinator, for container health checks.

    healthcheck.py [HOST:PORT] [--tls-ca FILE]     (default 127.0.0.1:50051)

Exit 0 when Health/Check answers SERVING, 1 otherwise. The health service
needs no token. It sends the raw protobuf bytes (an empty HealthCheckRequest
is b''; SERVING is b'\\x08\\x01'), so python3-grpcio is all it needs.
"""
import sys

import grpc

SERVING = b"\x08\x01"


def main(argv):
    address, ca = "127.0.0.1:50051", None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--tls-ca":
            ca = args.pop(0)
        else:
            address = arg
    if ca:
        with open(ca, "rb") as f:
            channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(f.read()))
    else:
        channel = grpc.insecure_channel(address)
    try:
        reply = channel.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=5)
    except grpc.RpcError as e:
        print(f"unhealthy: {address}: {e.code().name} {e.details()}", file=sys.stderr)
        return 1
    if reply != SERVING:
        print(f"unhealthy: {address}: status bytes {reply!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
