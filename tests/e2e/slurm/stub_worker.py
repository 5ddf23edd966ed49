#!/usr/bin/env python3
"""A stand-in for switchyard-worker in the Slurm plumbing test.

It records its arguments, CUDA_VISIBLE_DEVICES and every SIGTERM it gets in
$STUB_LOG, "drains" for $STUB_DRAIN seconds after the first SIGTERM and exits
0, so the test sees what worker.sbatch and Slurm do to a real worker: which
flags, which GPUs, how many signals, and whether the drain may finish.
"""
import os
import signal
import sys
import time

log = open(os.environ["STUB_LOG"], "a", buffering=1)
pid = os.getpid()
log.write(f"{pid} start args={' '.join(sys.argv[1:])} "
          f"cvd={os.environ.get('CUDA_VISIBLE_DEVICES', '-')}\n")
terms = []


def on_term(signum, frame):
    terms.append(time.time())
    log.write(f"{pid} SIGTERM\n")


signal.signal(signal.SIGTERM, on_term)
while not terms:
    time.sleep(0.05)
time.sleep(float(os.environ.get("STUB_DRAIN", "3")))
log.write(f"{pid} drained\n")
sys.exit(0)
