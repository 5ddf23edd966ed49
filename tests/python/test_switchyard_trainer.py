"""Tests of python/switchyard_trainer.py against docs/trainer-protocol.md.

A tiny fake training program that uses the helper is run the way the worker
runs a trainer (JobRunner::MakeSpec, ProcessTrainerLauncher::Launch): its
own attempt folder as working directory, config.json and checkpoints/ in it,
the worker's arguments in the worker's order, its environment variables,
stdin from /dev/null. Its stdout is read with a parser that follows
worker/agent/trainer_output.cc.
"""

import io
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
HELPER_DIR = os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
TIMEOUT = 30

# The fake training program. It trains nothing: a step is a short sleep.
FAKE_TRAINER = textwrap.dedent('''
    import sys, time
    import switchyard_trainer as sy

    try:
        cfg = sy.config()
    except sy.ConfigError as e:
        sy.fail(str(e), sy.EXIT_BAD_CONFIG)
    steps = cfg["steps"]
    every = cfg.get("checkpoint_every", 0)
    step = sy.resume_step() or 0
    if step:
        with open(sy.resume_path(), "rb") as f:
            assert f.read() == b"state at %d" % step
    sys.stderr.write("fake trainer: device %s, %s thread(s), from step %d\\n"
                     % (sy.device(), sy.threads(), step))
    while step < steps:
        if sy.should_stop():
            sy.write_checkpoint(step, b"state at %d" % step)
            sys.exit(sy.EXIT_STOPPED)
        time.sleep(cfg.get("step_seconds", 0))
        step += 1
        sy.log(step, epoch=1, loss=1.0 / step, accuracy=float("nan"), note="text")
        if every and step % every == 0:
            sy.write_checkpoint(step, lambda p: open(p, "wb").write(b"state at %d" % step))
    if cfg.get("fail"):
        sy.fail("loss is NaN at step %d" % step, sy.EXIT_FAILED, step)
    sy.summary(step=step, parameters=3)
    sys.exit(sy.EXIT_DONE)
''')


def parse_line(line):
    """One stdout line as the worker reads it (ParseTrainerLine): returns
    (kind, fields). Raises ValueError where the worker would skip the line."""
    def no_constants(name):
        raise ValueError("not JSON: %s" % name)

    obj = json.loads(line.strip(), parse_constant=no_constants)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")

    def step_of(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("bad step")
        if value < 0 or value != math.floor(value):
            raise ValueError("bad step")
        return int(value)

    if "summary" in obj:
        return "summary", obj
    if "error" in obj:
        e = obj["error"]
        return "error", {"error": e if isinstance(e, str) else json.dumps(e)}
    if "checkpoint" in obj:
        if not isinstance(obj["checkpoint"], str) or not obj["checkpoint"]:
            raise ValueError("a checkpoint line needs a path")
        return "checkpoint", {"path": obj["checkpoint"], "step": step_of(obj.get("step"))}
    if "step" not in obj:
        return "other", obj
    step = step_of(obj["step"])
    points = {k: float(v) for k, v in obj.items()
              if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)
              and math.isfinite(v)}
    return "metrics", {"step": step, "points": points}


class Attempt(object):
    """An attempt folder laid out as JobRunner::PrepareWorkDir makes it."""

    def __init__(self, root, config_text, resume_from=None):
        self.dir = os.path.join(root, "attempt-1")
        self.checkpoints = os.path.join(self.dir, "checkpoints")
        os.makedirs(self.checkpoints)
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            f.write(config_text + "\n")
        self.program = os.path.join(root, "fake_trainer.py")
        with open(self.program, "w") as f:
            f.write(FAKE_TRAINER)
        self.resume = resume_from is not None
        if self.resume:
            step, data = resume_from
            with open(os.path.join(self.checkpoints, "ckpt-%d.pt" % step), "wb") as f:
                f.write(data)

    def start(self):
        argv = [PYTHON, self.program,
                "--config", os.path.join(self.dir, "config.json"),
                "--checkpoint-dir", self.checkpoints]
        if self.resume:
            argv.append("--resume")
        argv += ["--threads", "1", "--device", "cpu"]
        env = dict(os.environ)
        env.update({"CUDA_VISIBLE_DEVICES": "", "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
                    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                    "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": HELPER_DIR,
                    "PYTHONDONTWRITEBYTECODE": "1"})
        return subprocess.Popen(argv, cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, start_new_session=True)

    def run(self):
        process = self.start()
        out, err = process.communicate(timeout=TIMEOUT)
        return process.returncode, [parse_line(l) for l in out.splitlines()], err


class TrainerProgramTest(unittest.TestCase):

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def test_finished_run_prints_lines_the_worker_reads(self):
        attempt = Attempt(self.root, json.dumps({"steps": 4, "checkpoint_every": 2}))
        code, events, err = attempt.run()
        self.assertEqual(code, 0, err)
        kinds = [kind for kind, _ in events]
        self.assertEqual(kinds, ["metrics", "metrics", "checkpoint", "metrics", "metrics",
                                 "checkpoint", "summary"])
        metrics = [fields for kind, fields in events if kind == "metrics"]
        self.assertEqual([m["step"] for m in metrics], [1, 2, 3, 4])
        # Numeric keys are metrics, "epoch" included; NaN went out as null
        # and strings are skipped, key by key.
        self.assertEqual(metrics[1]["points"], {"epoch": 1.0, "loss": 0.5})
        for kind, fields in events:
            if kind == "checkpoint":
                path = fields["path"]
                self.assertTrue(os.path.isabs(path))
                self.assertEqual(os.path.basename(path), "ckpt-%d.pt" % fields["step"])
                with open(path, "rb") as f:
                    self.assertEqual(f.read(), b"state at %d" % fields["step"])
        self.assertEqual(events[-1][1], {"summary": True, "step": 4, "parameters": 3})
        self.assertIn("device cpu, 1 thread(s)", err)
        # No temporary file is left beside the checkpoints.
        self.assertEqual(sorted(os.listdir(attempt.checkpoints)), ["ckpt-2.pt", "ckpt-4.pt"])

    def test_sigterm_checkpoints_and_exits_stopped(self):
        attempt = Attempt(self.root, json.dumps({"steps": 100000, "step_seconds": 0.01}))
        process = attempt.start()
        try:
            first = parse_line(process.stdout.readline())
            self.assertEqual(first[0], "metrics")
            process.send_signal(signal.SIGTERM)  # to the process, as the worker does
            out, err = process.communicate(timeout=TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.assertEqual(process.returncode, 4, err)
        events = [parse_line(l) for l in out.splitlines()]
        self.assertEqual(events[-1][0], "checkpoint")
        checkpoint = events[-1][1]
        last_step = max([first[1]["step"]] +
                        [f["step"] for k, f in events if k == "metrics"])
        self.assertEqual(checkpoint["step"], last_step)
        with open(checkpoint["path"], "rb") as f:
            self.assertEqual(f.read(), b"state at %d" % checkpoint["step"])

    def test_resume_reads_the_downloaded_checkpoint(self):
        attempt = Attempt(self.root, json.dumps({"steps": 9}), resume_from=(7, b"state at 7"))
        code, events, err = attempt.run()
        self.assertEqual(code, 0, err)
        self.assertIn("from step 7", err)
        steps = [f["step"] for k, f in events if k == "metrics"]
        self.assertEqual(steps, [8, 9])

    def test_bad_config_exits_2_with_an_error_line(self):
        attempt = Attempt(self.root, "[1, 2]")
        code, events, _ = attempt.run()
        self.assertEqual(code, 2)
        self.assertEqual(events[-1][0], "error")
        self.assertIn("not a JSON object", events[-1][1]["error"])

    def test_training_failure_exits_3_with_an_error_line(self):
        attempt = Attempt(self.root, json.dumps({"steps": 2, "fail": True}))
        code, events, err = attempt.run()
        self.assertEqual(code, 3)
        self.assertEqual(events[-1], ("error", {"error": "loss is NaN at step 2"}))
        self.assertIn("loss is NaN at step 2", err)


class HelperInProcessTest(unittest.TestCase):
    """The helper's functions called directly, stdout captured."""

    @classmethod
    def setUpClass(cls):
        # Importing installs the stop handlers; give the test runner its own back.
        saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        sys.path.insert(0, HELPER_DIR)
        try:
            import switchyard_trainer
            cls.sy = switchyard_trainer
            cls.installed_on_import = (
                signal.getsignal(signal.SIGTERM) is switchyard_trainer._on_stop_signal and
                signal.getsignal(signal.SIGINT) is switchyard_trainer._on_stop_signal)
        finally:
            sys.path.remove(HELPER_DIR)
            for s, handler in saved.items():
                signal.signal(s, handler)

    def capture(self, fn, *a, **kw):
        saved, sys.stdout = sys.stdout, io.StringIO()
        try:
            fn(*a, **kw)
            return sys.stdout.getvalue()
        finally:
            sys.stdout = saved

    def test_import_installs_the_stop_handler(self):
        self.assertTrue(self.installed_on_import)

    def test_sigterm_sets_should_stop(self):
        saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        try:
            self.sy.install_stop_handler()
            self.assertFalse(self.sy.should_stop())
            os.kill(os.getpid(), signal.SIGTERM)
            # The handler runs at the next bytecode boundary of the main thread.
            for _ in range(1000):
                if self.sy.should_stop():
                    break
            self.assertTrue(self.sy.should_stop())
        finally:
            signal.signal(signal.SIGTERM, saved[0])
            signal.signal(signal.SIGINT, saved[1])
            self.sy._stop.clear()

    def test_stop_at_epoch_end_follows_the_stop_file(self):
        saved = os.environ.pop("SWITCHYARD_STOP_FILE", None)
        try:
            self.assertFalse(self.sy.stop_at_epoch_end())  # outside a worker
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "stop-at-epoch-end")
                os.environ["SWITCHYARD_STOP_FILE"] = path
                self.assertFalse(self.sy.stop_at_epoch_end())
                open(path, "w").close()  # the worker's order
                self.assertTrue(self.sy.stop_at_epoch_end())
        finally:
            os.environ.pop("SWITCHYARD_STOP_FILE", None)
            if saved is not None:
                os.environ["SWITCHYARD_STOP_FILE"] = saved

    def test_config_reads_the_file_the_worker_passes(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "config.json")
            with open(path, "w") as f:
                f.write('{"model":"mlp","lr":0.001}\n')
            a = self.sy.args(["--config", path, "--checkpoint-dir", d, "--threads", "2",
                              "--device", "cuda:0", "--extra", "x"])
            self.assertEqual((a.config, a.checkpoint_dir, a.resume, a.threads, a.device),
                             (path, d, False, 2, "cuda:0"))
            self.assertEqual(a.extra, ["--extra", "x"])
            self.assertEqual(self.sy.config(a.config), {"model": "mlp", "lr": 0.001})
            with self.assertRaises(self.sy.ConfigError):
                self.sy.config(os.path.join(d, "missing.json"))
        with self.assertRaises(self.sy.ConfigError):
            self.sy.args(["--threads", "0"])

    def test_log_writes_one_flushed_json_line(self):
        out = self.capture(self.sy.log, 400, loss=float("nan"), accuracy=0.5,
                           grad=float("inf"), epoch=2)
        self.assertTrue(out.endswith("\n"))
        self.assertEqual(out.count("\n"), 1)
        kind, fields = parse_line(out)
        self.assertEqual((kind, fields["step"]), ("metrics", 400))
        self.assertEqual(fields["points"], {"accuracy": 0.5, "epoch": 2.0})
        self.assertEqual(json.loads(out)["loss"], None)

    def test_log_refuses_what_the_worker_would_misread(self):
        for bad in (-1, 1.5, "3", True):
            with self.assertRaises(ValueError):
                self.capture(self.sy.log, bad, loss=1.0)
        for key in ("summary", "error", "checkpoint"):
            with self.assertRaises(ValueError):
                self.capture(self.sy.log, 1, **{key: 1.0})
        with self.assertRaises(ValueError):
            self.capture(self.sy.log, 1, blob="x" * self.sy.MAX_LINE_BYTES)
        self.assertEqual(parse_line(self.capture(self.sy.log, 7.0, loss=1))[1]["step"], 7)

    def test_announce_summary_and_error_lines(self):
        self.assertEqual(parse_line(self.capture(self.sy.announce_checkpoint, "c/ckpt-3.pt", 3)),
                         ("checkpoint", {"path": "c/ckpt-3.pt", "step": 3}))
        self.assertEqual(parse_line(self.capture(self.sy.summary, step=3))[0], "summary")
        line = json.loads(self.capture(self.sy.error, "out of memory", self.sy.EXIT_FAILED, 3))
        self.assertEqual(line, {"error": "out of memory", "exit_code": 3, "step": 3})

    def test_exit_codes_match_the_protocol(self):
        sy = self.sy
        self.assertEqual((sy.EXIT_DONE, sy.EXIT_BAD_CONFIG, sy.EXIT_FAILED, sy.EXIT_STOPPED,
                          sy.EXIT_ENVIRONMENT), (0, 2, 3, 4, 5))


if __name__ == "__main__":
    unittest.main()
