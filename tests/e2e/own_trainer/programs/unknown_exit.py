#!/usr/bin/python3
"""Logs a step and exits with a code the protocol does not define."""
import sys
from common import sy

cfg = sy.config()
sy.log(cfg["steps_per_epoch"], epoch=1, loss=0.5)
print("exiting with 42 for no reason", file=sys.stderr, flush=True)
sys.exit(42)
