#!/usr/bin/python3
"""deploy/k8s, deploy/docker and deploy/slurm: what can be checked without a
Kubernetes cluster or a Docker engine (neither exists on the test machines).

    manifests_test.py [PATH/TO/switchyard-coordinator]

- every YAML file parses (yaml.safe_load_all) and has the expected kinds and
  fields: a one-replica coordinator StatefulSet with volumeClaimTemplates for
  its data dir, native gRPC probes on the health port, tokens from the
  Secret; its Services; a worker Deployment with nvidia.com/gpu limits and a
  grace period above its drain timeout; compose.yaml services;
- the Dockerfiles: multi-stage, final stage on debian:12-slim, a non-root
  USER, a HEALTHCHECK through grpc.health.v1, files they COPY exist;
- deploy/docker/healthcheck.py against a real coordinator: SERVING while it
  runs, exit 1 once it is gone (when the coordinator binary and python3-grpcio
  are there);
- the Slurm scripts parse (bash -n) and carry the directives the docs promise.
"""
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


def check(condition, message):
    if not condition:
        fail(message)
    return condition


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def probe_is_grpc_on(probe, port):
    return isinstance(probe, dict) and probe.get("grpc", {}).get("port") == port


def container_args(container):
    return container.get("args", []) + container.get("command", [])


# ---------------------------------------------------------------- Kubernetes
def test_k8s():
    k8s = os.path.join(DEPLOY, "k8s")
    docs = {}
    for name in sorted(os.listdir(k8s)):
        if name.endswith((".yaml", ".yml")):
            try:
                docs[name] = load_all(os.path.join(k8s, name))
            except yaml.YAMLError as e:
                fail(f"k8s/{name} does not parse: {e}")
    everything = [d for ds in docs.values() for d in ds]
    for name, ds in docs.items():
        for d in ds:
            check("apiVersion" in d and "kind" in d, f"k8s/{name}: a document without apiVersion/kind")

    sts = by_kind(everything, "StatefulSet")
    if check(len(sts) == 1, f"want one StatefulSet, got {len(sts)}"):
        s = sts[0]["spec"]
        check(s.get("replicas") == 1, "the coordinator StatefulSet must have exactly 1 replica (one writer)")
        vcts = s.get("volumeClaimTemplates", [])
        check(len(vcts) == 1, "the StatefulSet needs a volumeClaimTemplate for the data dir")
        pod = s["template"]["spec"]
        (c,) = pod["containers"]
        mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
        if vcts:
            check(mounts.get(vcts[0]["metadata"]["name"]) == "/var/lib/switchyard",
                  "the claim must be mounted at /var/lib/switchyard (the image's --data-dir)")
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        grpc_port = ports.get("grpc")
        check(grpc_port == 50051, f"the coordinator's grpc port is {grpc_port}, want 50051")
        for kind in ("readinessProbe", "livenessProbe"):
            check(probe_is_grpc_on(c.get(kind), grpc_port),
                  f"coordinator {kind} must be a native grpc probe on port {grpc_port}")
        args = container_args(c)
        check(any(a.startswith("--client-token-file=") for a in args) and
              any(a.startswith("--worker-token-file=") for a in args),
              "the coordinator must take both tokens from files (the Secret)")
        secret_volumes = [v for v in pod.get("volumes", []) if "secret" in v]
        check(any(v["secret"].get("secretName") == "switchyard-tokens" for v in secret_volumes),
              "the coordinator must mount the switchyard-tokens Secret")
        check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "coordinator: runAsNonRoot")
        check(s.get("serviceName") in {d["metadata"]["name"] for d in by_kind(everything, "Service")},
              "the StatefulSet's serviceName must be one of the Services")

    services = by_kind(everything, "Service")
    check(any(p.get("port") == 50051 for svc in services for p in svc["spec"].get("ports", [])
              if svc["spec"].get("clusterIP") != "None"),
          "a ClusterIP Service must expose the coordinator on 50051")

    secrets = by_kind(everything, "Secret")
    if check(len(secrets) == 1, "want one Secret (the tokens)"):
        data = {**secrets[0].get("stringData", {}), **secrets[0].get("data", {})}
        check(set(data) == {"client.token", "worker.token"},
              f"the Secret must hold client.token and worker.token, has {sorted(data)}")
        for key, value in secrets[0].get("stringData", {}).items():
            # A placeholder must be one the coordinator refuses (common/rpc/auth.h).
            check(re.fullmatch(r"[A-Za-z0-9._~+/=-]+", value) is None,
                  f"Secret {key}: the placeholder '{value}' would be accepted as a real token")

    deps = by_kind(everything, "Deployment")
    if check(len(deps) == 1, f"want one Deployment (workers), got {len(deps)}"):
        pod = deps[0]["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        limits = c.get("resources", {}).get("limits", {})
        check(int(limits.get("nvidia.com/gpu", 0)) >= 1, "the worker must request nvidia.com/gpu in limits")
        args = container_args(c)
        check(any(a.startswith("--coordinator=switchyard-coordinator:50051") for a in args),
              "the worker must point at the coordinator Service")
        check(any(a.startswith("--token-file=") for a in args), "the worker token must come from a file")
        ready = c.get("readinessProbe", {})
        command = " ".join(ready.get("exec", {}).get("command", []))
        check("switchyard-healthcheck" in command and "50051" in command,
              "the worker's readiness must ask the coordinator's grpc.health.v1 service")
        grace = pod.get("terminationGracePeriodSeconds", 30)
        check(grace > 90, f"worker terminationGracePeriodSeconds {grace} must exceed the 90 s drain timeout")
        check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "worker: runAsNonRoot")

    kustomization = docs.get("kustomization.yaml", [{}])[0]
    for resource in kustomization.get("resources", []):
        check(os.path.exists(os.path.join(k8s, resource)), f"kustomization names a missing {resource}")


# -------------------------------------------------------------------- Docker
def dockerfile_stages(path):
    stages, current = [], None
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            current = {"from": rest.split()[0], "lines": []}
            stages.append(current)
        elif current is not None:
            current["lines"].append((word, rest.strip()))
    return stages


def test_docker():
    docker = os.path.join(DEPLOY, "docker")
    for name, wants_healthcheck in (("coordinator.Dockerfile", True), ("worker-cuda.Dockerfile", False)):
        path = os.path.join(docker, name)
        if not check(os.path.exists(path), f"no deploy/docker/{name}"):
            continue
        stages = dockerfile_stages(path)
        check(len(stages) >= 2, f"{name}: want a multi-stage build, got {len(stages)} stage(s)")
        final = stages[-1]
        check(final["from"] == "debian:12-slim", f"{name}: the final stage is FROM {final['from']}, want debian:12-slim")
        users = [rest for word, rest in final["lines"] if word == "USER"]
        check(users and users[-1].split(":")[0] not in ("root", "0"), f"{name}: the final stage must set a non-root USER")
        checks = [rest for word, rest in final["lines"] if word == "HEALTHCHECK"]
        if wants_healthcheck:
            check(checks and "switchyard-healthcheck" in checks[-1],
                  f"{name}: want a HEALTHCHECK through switchyard-healthcheck (grpc.health.v1)")
        entry = [rest for word, rest in final["lines"] if word == "ENTRYPOINT"]
        check(entry and entry[-1].startswith("["), f"{name}: ENTRYPOINT must be exec form (signals reach the daemon)")
        for stage in stages:
            for word, rest in stage["lines"]:
                if word != "COPY" or "--from=" in rest:
                    continue
                sources = [s for s in shlex.split(rest) if not s.startswith("--")][:-1]
                for src in sources:
                    check(src == "." or os.path.exists(os.path.join(ROOT, src)),
                          f"{name}: COPY {src}: no such file in the repository")

    compose_path = os.path.join(docker, "compose.yaml")
    try:
        (compose,) = load_all(compose_path)
    except Exception as e:  # noqa: BLE001 - any failure to load is the finding
        fail(f"compose.yaml does not load: {e}")
        return
    services = compose.get("services", {})
    check({"coordinator", "worker"} <= set(services), f"compose services: {sorted(services)}")
    for name, service in services.items():
        build = service.get("build", {})
        dockerfile = os.path.normpath(os.path.join(docker, build.get("context", "."), build.get("dockerfile", "")))
        check(os.path.isfile(dockerfile), f"compose service {name}: no Dockerfile {dockerfile}")
    worker = services.get("worker", {})
    devices = worker.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    check(any("gpu" in d.get("capabilities", []) for d in devices), "compose worker must reserve a GPU")
    grace = worker.get("stop_grace_period", "10s")
    check(int(grace.rstrip("s")) > 90, f"compose worker stop_grace_period {grace} must exceed the drain timeout")
    check(worker.get("depends_on", {}).get("coordinator", {}).get("condition") == "service_healthy",
          "compose worker should wait for a healthy coordinator")


def test_healthcheck(coordinator):
    script = os.path.join(DEPLOY, "docker", "healthcheck.py")
    try:
        import grpc  # noqa: F401
    except ImportError:
        print("note: python3-grpcio is missing; healthcheck.py not run against a coordinator")
        return
    if not coordinator or not os.access(coordinator, os.X_OK):
        print("note: no coordinator binary given; healthcheck.py not run against a coordinator")
        return
    with tempfile.TemporaryDirectory() as work:
        out = open(os.path.join(work, "out"), "w+")
        proc = subprocess.Popen([coordinator, "--data-dir", os.path.join(work, "data"), "--listen", "127.0.0.1:0"],
                                stdout=out, stderr=subprocess.DEVNULL)
        address = None
        try:
            for _ in range(200):
                out.seek(0)
                m = re.search(r"^listening on (\S+)", out.read(), re.M)
                if m:
                    address = m.group(1)
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
            if not check(address, "the coordinator did not start"):
                return
            r = subprocess.run([sys.executable, script, address], capture_output=True, text=True, timeout=30)
            check(r.returncode == 0, f"healthcheck.py against a running coordinator: exit {r.returncode} {r.stderr}")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        r = subprocess.run([sys.executable, script, address], capture_output=True, text=True, timeout=30)
        check(r.returncode == 1, f"healthcheck.py against a stopped coordinator: exit {r.returncode}, want 1")


# --------------------------------------------------------------------- Slurm
def test_slurm():
    slurm = os.path.join(DEPLOY, "slurm")
    for name in ("worker.sbatch", "submit-workers.sh"):
        path = os.path.join(slurm, name)
        if not check(os.access(path, os.X_OK), f"deploy/slurm/{name} missing or not executable"):
            continue
        r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
        check(r.returncode == 0, f"bash -n {name}: {r.stderr}")
    with open(os.path.join(slurm, "worker.sbatch")) as f:
        directives = [line[len("#SBATCH"):].strip() for line in f if line.startswith("#SBATCH")]
    signal_opts = [d for d in directives if d.startswith("--signal=")]
    check(signal_opts and re.fullmatch(r"--signal=(B:)?TERM@(\d+)", signal_opts[0]) and
          int(signal_opts[0].split("@")[1]) >= 60,
          f"worker.sbatch: want --signal=TERM@N (N >= 60) so the worker drains before the limit; got {signal_opts}")
    r = subprocess.run([os.path.join(slurm, "submit-workers.sh"), "--help"], capture_output=True, text=True)
    check("N HOST:PORT" in r.stderr, "submit-workers.sh --help prints its usage")


def main():
    coordinator = sys.argv[1] if len(sys.argv) > 1 else ""
    test_k8s()
    test_docker()
    test_healthcheck(coordinator)
    test_slurm()
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
