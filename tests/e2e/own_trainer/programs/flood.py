#!/usr/bin/python3
"""Floods stdout: FLOOD_STEPS metric lines as fast as it can, with a line
longer than the worker's 4 MiB limit in the middle, then succeeds. Every
metric point must be stored, and the worker must stay healthy."""
import sys
from common import sy

cfg = sy.config()
steps = int(cfg.get("params", {}).get("lines", 50000))
out = sys.stdout
for step in range(1, steps + 1):
    if step == steps // 2:
        out.write("x" * (5 << 20) + "\n")
    out.write('{"step": %d, "loss": %.6f, "epoch": %d}\n' % (step, 1.0 / step, step))
out.flush()
sy.summary(step=steps)
sys.exit(sy.EXIT_DONE)
