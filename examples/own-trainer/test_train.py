#!/usr/bin/python3
"""Tests of examples/own-trainer/train.py against docs/trainer-protocol.md.

train.py is run the way the worker runs a training program
(JobRunner::MakeSpec, ProcessTrainerLauncher::Launch): executed by its own
path (so its #! line picks the interpreter), in an attempt folder holding
config.json and checkpoints/, with the worker's arguments in the worker's
order and its environment variables, stdin from /dev/null. Its stdout is
read with a parser that follows worker/agent/trainer_output.cc.

    /usr/bin/python3 examples/own-trainer/test_train.py
    /usr/bin/python3 -m unittest discover -s examples/own-trainer -p 'test_*.py'

Skipped where the interpreter of train.py's #! line cannot import torch.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "train.py")

# How the worker reads a stdout line (ParseTrainerLine), as the helper's own
# test has it: one copy of that reading.
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "python"))
from test_switchyard_trainer import parse_line  # noqa: E402
TIMEOUT = 120


def _interpreter():
    with open(PROGRAM) as f:
        first = f.readline()
    return first[2:].strip().split()[0] if first.startswith("#!") else sys.executable


def _torch_problem():
    """None when train.py's interpreter imports torch, else why not."""
    python = _interpreter()
    if not os.access(python, os.X_OK):
        return "%s (train.py's interpreter) is not there" % python
    try:
        done = subprocess.run([python, "-c", "import torch"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s cannot run: %s" % (python, e)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return "%s cannot import torch: %s" % (python, lines[-1] if lines else done.returncode)
    return None


TORCH_PROBLEM = _torch_problem()

# A small job: 3 epochs of 20 steps of 32 windows, 300 held-out windows, a
# checkpoint every 30 steps (one in the middle of epoch 2) and at the end.
BASE = {"seed": 1, "epochs": 3, "steps_per_epoch": 20, "batch_size": 32, "lr": 0.003,
        "eval_windows": 300, "checkpoint_every": 30, "tasks": "IARC",
        "program": "own-trainer", "params": {"model": "lstm", "hidden": 32, "layers": 1}}
EPOCH_KEYS = {"epoch", "loss", "eval_loss", "accuracy", "accuracy_last", "samples_per_sec"}


def job(**changes):
    cfg = json.loads(json.dumps(BASE))
    params = changes.pop("params", {})
    cfg.update(changes)
    cfg["params"].update(params)
    return cfg


class Attempt(object):
    """An attempt folder laid out as JobRunner::PrepareWorkDir makes it."""

    def __init__(self, root, name, config, resume_from=None):
        self.dir = os.path.join(root, name)
        self.checkpoints = os.path.join(self.dir, "checkpoints")
        os.makedirs(self.checkpoints)
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            f.write((config if isinstance(config, str) else json.dumps(config)) + "\n")
        self.resume = resume_from is not None
        if self.resume:  # as the worker downloads it: ckpt-<step>.pt, byte for byte
            shutil.copyfile(resume_from["path"], os.path.join(
                self.checkpoints, "ckpt-%d.pt" % resume_from["step"]))

    def start(self):
        argv = [PROGRAM, "--config", os.path.join(self.dir, "config.json"),
                "--checkpoint-dir", self.checkpoints]
        if self.resume:
            argv.append("--resume")
        argv += ["--threads", "1", "--device", "cpu"]
        env = dict(os.environ)
        env.pop("SWITCHYARD_PYTHON_PATH", None)  # train.py finds ../../python itself
        env.update({"CUDA_VISIBLE_DEVICES": "", "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
                    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                    "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"})
        return subprocess.Popen(argv, cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, start_new_session=True)

    def run(self):
        process = self.start()
        try:
            out, err = process.communicate(timeout=TIMEOUT)
        finally:
            _reap(process)
        return process.returncode, [parse_line(l) for l in out.splitlines()], err


def _reap(process):
    if process.poll() is None:
        process.kill()
        process.wait()


def metrics_of(events):
    return [fields for kind, fields in events if kind == "metrics"]


@unittest.skipIf(TORCH_PROBLEM is not None, TORCH_PROBLEM or "")
class OwnTrainerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = cls._tmp.name
        # The uninterrupted reference run, shared by the tests below.
        cls.straight = Attempt(cls.root, "straight", job())
        cls.straight_result = cls.straight.run()

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def assertSameEpochs(self, got, want):
        """Epoch lines equal but for samples_per_sec (a timing)."""
        self.assertEqual([m["step"] for m in got], [m["step"] for m in want])
        for g, w in zip(got, want):
            self.assertEqual(set(g["points"]), set(w["points"]))
            for key, value in w["points"].items():
                if key != "samples_per_sec":
                    self.assertAlmostEqual(g["points"][key], value,
                                           delta=1e-6 * max(1.0, abs(value)),
                                           msg="%s at step %d" % (key, w["step"]))

    def test_finished_run_logs_every_epoch_and_exits_0(self):
        code, events, err = self.straight_result
        self.assertEqual(code, 0, err)
        kinds = [kind for kind, _ in events]
        self.assertEqual(kinds, ["metrics", "checkpoint", "metrics", "metrics", "checkpoint",
                                 "summary"], events)
        metrics = metrics_of(events)
        self.assertEqual([m["step"] for m in metrics], [20, 40, 60])
        for epoch, m in enumerate(metrics, 1):
            self.assertTrue(EPOCH_KEYS <= set(m["points"]), m)
            self.assertEqual(m["points"]["epoch"], epoch)
            for key in ("accuracy", "accuracy_last"):
                self.assertTrue(0.0 <= m["points"][key] <= 1.0, m)
        # It learns something in 60 steps.
        self.assertLess(metrics[-1]["points"]["loss"], metrics[0]["points"]["loss"])
        checkpoints = [fields for kind, fields in events if kind == "checkpoint"]
        self.assertEqual([c["step"] for c in checkpoints], [30, 60])
        for c in checkpoints:
            self.assertTrue(os.path.isabs(c["path"]))
            self.assertEqual(os.path.basename(c["path"]), "ckpt-%d.pt" % c["step"])
        # No temporary file is left behind.
        self.assertEqual(sorted(os.listdir(self.straight.checkpoints)),
                         ["ckpt-30.pt", "ckpt-60.pt"])
        summary = events[-1][1]
        self.assertEqual(summary["step"], 60)
        self.assertEqual(summary["epochs"], 3)
        self.assertEqual(summary["model"], "lstm")
        self.assertGreater(summary["parameters"], 0)
        self.assertAlmostEqual(summary["final"]["accuracy"], metrics[-1]["points"]["accuracy"])

    def test_resume_from_a_mid_epoch_checkpoint_repeats_nothing(self):
        _, events, _ = self.straight_result
        at_30 = [f for k, f in events if k == "checkpoint" and f["step"] == 30][0]
        code, resumed, err = Attempt(self.root, "from-30", job(), resume_from=at_30).run()
        self.assertEqual(code, 0, err)
        # Steps 40 and 60 only; epoch 2's loss includes the 10 steps before 30.
        self.assertSameEpochs(metrics_of(resumed), metrics_of(events)[1:])
        self.assertEqual(resumed[-1][1]["final"], events[-1][1]["final"])

    def test_sigterm_checkpoints_exits_4_and_a_resume_ends_like_a_straight_run(self):
        # More epochs than the reference, so that the signal lands mid-run.
        cfg = job(epochs=6, checkpoint_every=0)
        stopped = Attempt(self.root, "stopped", cfg)
        process = stopped.start()
        try:
            first = parse_line(process.stdout.readline())
            self.assertEqual(first[0], "metrics", first)
            self.assertEqual(first[1]["step"], 20)
            process.send_signal(signal.SIGTERM)  # to the process, as the worker does
            out, err = process.communicate(timeout=TIMEOUT)
        finally:
            _reap(process)
        self.assertEqual(process.returncode, 4, err)
        events = [first] + [parse_line(l) for l in out.splitlines()]
        self.assertEqual(events[-1][0], "checkpoint")
        checkpoint = events[-1][1]
        self.assertTrue(os.path.exists(checkpoint["path"]))
        last_step = max(m["step"] for m in metrics_of(events))
        self.assertGreaterEqual(checkpoint["step"], last_step)
        self.assertLess(checkpoint["step"], 120, "the signal came too late to test a resume")
        self.assertFalse([k for k, _ in events if k == "summary"])

        # The next attempt, elsewhere: only the checkpoint travels.
        code, resumed, err = Attempt(self.root, "resumed", cfg, resume_from=checkpoint).run()
        self.assertEqual(code, 0, err)
        resumed_steps = [m["step"] for m in metrics_of(resumed)]
        self.assertTrue(resumed_steps and min(resumed_steps) > checkpoint["step"], resumed_steps)

        code, straight, err = Attempt(self.root, "straight-6", cfg).run()
        self.assertEqual(code, 0, err)
        # Together, the two attempts logged each epoch once, with the numbers
        # of the uninterrupted run.
        self.assertSameEpochs(metrics_of(events) + metrics_of(resumed), metrics_of(straight))
        self.assertEqual(resumed[-1][1]["step"], 120)
        final, want = resumed[-1][1]["final"], straight[-1][1]["final"]
        for key, value in want.items():
            if value is None:
                self.assertIsNone(final[key], key)
            else:
                self.assertAlmostEqual(final[key], value, delta=1e-6 * max(1.0, abs(value)),
                                       msg=key)

    def test_ssm_trains_and_logs_finite_metrics(self):
        cfg = job(epochs=1, params={"model": "ssm", "hidden": 16, "state": 4})
        code, events, err = Attempt(self.root, "ssm", cfg).run()
        self.assertEqual(code, 0, err)
        metrics = metrics_of(events)
        self.assertEqual([m["step"] for m in metrics], [20])
        self.assertTrue(EPOCH_KEYS <= set(metrics[0]["points"]), metrics)
        self.assertEqual(events[-1][1]["model"], "ssm")

    def test_bad_params_exit_2_with_an_error_naming_the_key(self):
        cases = [({"model": "gru"}, "params.model"),
                 ({"hidden": 0}, "params.hidden"),
                 ({"hidden": -3}, "params.hidden"),
                 ({"layers": 1.5}, "params.layers"),
                 ({"widht": 8}, "params.widht")]
        for i, (params, key) in enumerate(cases):
            with self.subTest(params=params):
                code, events, err = Attempt(self.root, "bad-%d" % i, job(params=params)).run()
                self.assertEqual(code, 2, err)
                self.assertEqual(events[-1][0], "error")
                self.assertTrue(events[-1][1]["error"].startswith(key + ":"), events[-1])
                self.assertFalse(metrics_of(events))

    def test_bad_config_key_exits_2(self):
        code, events, err = Attempt(self.root, "bad-tasks", job(tasks="AI")).run()
        self.assertEqual(code, 2, err)
        self.assertIn("tasks: 'AI' is not in canonical order", events[-1][1]["error"])

    def test_probe_answers_as_the_worker_reads_it(self):
        done = subprocess.run([PROGRAM, "--probe"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=TIMEOUT)
        self.assertEqual(done.returncode, 0, done.stderr)
        probe = json.loads(done.stdout.strip().splitlines()[-1])
        self.assertIs(probe["probe"], True)
        self.assertIsInstance(probe["libtorch"], str)
        self.assertIsInstance(probe["cuda_available"], bool)
        self.assertIsInstance(probe["cuda_device_count"], int)


class IarcPortTest(unittest.TestCase):
    """The generator port against the C++ generator's golden streams
    (tests/common/tasks/iarc_stream_test.cc). Needs no torch."""

    @classmethod
    def setUpClass(cls):
        import importlib.util
        spec = importlib.util.spec_from_file_location("own_trainer_train", PROGRAM)
        cls.t = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cls.t)

    def test_golden_streams(self):
        t = self.t
        self.assertEqual(t.format_stream(t.IarcOptions(), 7, 40),
                         "11 4 R 4 11 15 13 0 1 6 2 R 2 6 1 0 13 15 11 C 11 15 13 0 1 6 2 "
                         "2 A 4 6 10 0 10 A 10 4 14 2 0")
        seeds = t.Rng(7)
        self.assertEqual([t.format_stream(t.IarcOptions(), seeds.next_u64(), 20)
                          for _ in range(2)],
                         ["2 8 R 8 2 14 0 R 0 14 2 8 8 2 C 2 8 I 9 10",
                          "8 14 A 6 4 10 14 8 6 R 6 8 14 10 4 6 14 8 A 6"])

    def test_xoshiro_reference_vector(self):
        rng = self.t.Rng(0)
        rng.s = [1, 2, 3, 4]
        self.assertEqual([rng.next_u64() for _ in range(3)],
                         [11520, 0, 1509978240])

    def test_sampler_state_round_trip(self):
        t = self.t
        a = t.WindowSampler(t.IarcOptions(layout="attached"), 5)
        a.sample(3)
        b = t.WindowSampler(t.IarcOptions(layout="attached"), 99)
        self.assertTrue(b.load_state(a.save_state()))
        self.assertEqual(a.sample(4), b.sample(4))


if __name__ == "__main__":
    unittest.main(verbosity=2)
