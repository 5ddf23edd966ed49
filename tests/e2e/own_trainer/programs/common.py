"""Shared by the misbehaving programs of tests/e2e/own_trainer: the trainer
protocol helper (python/switchyard_trainer.py) on the import path."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "..", "..", "python"))
import switchyard_trainer as sy  # noqa: E402,F401
