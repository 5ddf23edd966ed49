#!/usr/bin/python3
"""Logs a good step, then a NaN written as JSON has no NaN (the line is not
JSON and is skipped), then fails the way the protocol asks: an error line
and exit 3."""
import sys
from common import sy

cfg = sy.config()
steps = cfg["steps_per_epoch"]
sy.log(steps, epoch=1, loss=0.5, accuracy=0.25)
print('{"step": %d, "epoch": 2, "loss": NaN}' % (2 * steps), flush=True)
sy.error("loss is NaN at step %d" % (2 * steps))
sys.exit(sy.EXIT_FAILED)
