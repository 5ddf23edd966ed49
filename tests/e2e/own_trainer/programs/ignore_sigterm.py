#!/usr/bin/python3
"""Ignores SIGTERM and runs on until the worker's SIGKILL."""
import signal
import time
from common import sy

cfg = sy.config()
signal.signal(signal.SIGTERM, signal.SIG_IGN)
step = 0
while True:
    step += 1
    sy.log(step, loss=1.0 / step)
    time.sleep(0.2)
