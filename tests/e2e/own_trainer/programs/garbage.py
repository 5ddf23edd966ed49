#!/usr/bin/python3
"""Writes lines that are not protocol lines between good ones, then succeeds:
the worker skips the bad lines, keeps the good ones and says so in the cause."""
import sys
from common import sy

cfg = sy.config()
print("hello, I am not JSON", flush=True)
print("[1, 2, 3]", flush=True)
print('{"step": "ten", "loss": 1.0}', flush=True)
print('{"unterminated": ', flush=True)
for epoch in range(1, cfg["epochs"] + 1):
    sy.log(epoch * cfg["steps_per_epoch"], epoch=epoch, loss=1.0 / epoch, accuracy=0.1 * epoch)
sy.summary(step=cfg["epochs"] * cfg["steps_per_epoch"])
sys.exit(sy.EXIT_DONE)
