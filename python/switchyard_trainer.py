"""Speak the Switchyard trainer protocol (docs/trainer-protocol.md) from Python.

Standard library only. A training program that the worker daemon runs
imports this module and uses:

    import switchyard_trainer as sy

    cfg = sy.config()                     # the job's JSON config (a dict)
    start = sy.resume_step() or 0         # None unless --resume and a checkpoint
    for step in range(start + 1, cfg["steps"] + 1):
        if sy.should_stop():              # SIGTERM: checkpoint and stop
            sy.write_checkpoint(step - 1, save)
            sys.exit(sy.EXIT_STOPPED)
        ...
        sy.log(step, loss=loss, epoch=epoch)
    sy.summary(step=step)
    sys.exit(sy.EXIT_DONE)

The contract, as the worker reads it:

* Arguments: ``--config FILE --checkpoint-dir DIR [--resume] --threads N
  --device cuda:0|cpu`` (args() parses them; unknown arguments are kept in
  ``args().extra``). Environment: CUDA_VISIBLE_DEVICES (the slot's GPU, or
  empty on a CPU slot), OMP_NUM_THREADS, MKL_NUM_THREADS and
  OPENBLAS_NUM_THREADS (all equal to --threads).
* Stdout: one JSON object per line, flushed. Kinds, told apart by key in this
  order: "summary", "error", "checkpoint", "step" (a metrics line). Write
  them only through the functions here: anything else printed on stdout is a
  line the worker skips (print human text to stderr).
* Checkpoints: one file ``<checkpoint-dir>/ckpt-<step>.pt``, complete before
  the line ``{"checkpoint": PATH, "step": STEP}`` announces it.
* SIGTERM: write a checkpoint, announce it, exit EXIT_STOPPED (4) promptly;
  the worker sends SIGKILL after its grace period (30 s on a cancel, 70% of
  what is left of a drain).
* Stop at the next epoch boundary (the sweep's scheduler, docs/early-stopping.md):
  the worker creates the file named in SWITCHYARD_STOP_FILE; check
  stop_at_epoch_end() after each epoch's line, and when it is true write a
  checkpoint, announce it and exit EXIT_STOPPED. A program that never checks
  simply trains on to its epochs.
* Exit codes: the EXIT_* constants below.

Signal handling: importing this module on the main thread installs a handler
for SIGTERM and SIGINT that only sets the flag should_stop() reads (so
SIGINT no longer raises KeyboardInterrupt). Imported on another thread it
installs nothing; call install_stop_handler() from the main thread then, or
again after a library replaced the handler.

Thread safety: log(), summary(), error() and announce_checkpoint() may be
called from any thread; each writes its line whole.
"""

import argparse
import json
import math
import os
import re
import signal
import sys
import threading

__all__ = [
    "EXIT_DONE", "EXIT_BAD_CONFIG", "EXIT_FAILED", "EXIT_STOPPED", "EXIT_ENVIRONMENT",
    "MAX_LINE_BYTES", "Args", "ConfigError", "args", "config", "checkpoint_dir",
    "checkpoint_path", "resume_step", "resume_path", "device", "threads", "log",
    "announce_checkpoint", "write_checkpoint", "summary", "error", "fail",
    "should_stop", "request_stop", "install_stop_handler", "stop_at_epoch_end",
]

# Exit codes (worker/agent/attempt_outcome.h) and whom the worker charges.
EXIT_DONE = 0          # training finished: the attempt succeeded
EXIT_BAD_CONFIG = 2    # the config was refused, nothing trained: the job fails at once
EXIT_FAILED = 3        # training failed (NaN loss, out of memory, I/O): the job's retry budget
EXIT_STOPPED = 4       # stopped on SIGTERM after a checkpoint: preempted, nobody charged
EXIT_ENVIRONMENT = 5   # this machine cannot run it (no such device): the worker is charged

# The worker cuts stdout lines at 4 MiB (kMaxLineBytes, process_launcher.cc).
MAX_LINE_BYTES = 4 << 20

_CHECKPOINT_NAME = re.compile(r"^ckpt-(\d+)\.pt$")
_RESERVED_KEYS = ("summary", "error", "checkpoint")


class ConfigError(Exception):
    """The config file is missing, unreadable or not a JSON object.

    A program should then exit with EXIT_BAD_CONFIG (fail() does both).
    """


class Args(object):
    """The worker's arguments: config (str or None), checkpoint_dir (str or
    None), resume (bool), threads (int or None), device (str, "cpu" when not
    given), extra (list of arguments this module does not know)."""

    def __init__(self, config, checkpoint_dir, resume, threads, device, extra):
        self.config = config
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.threads = threads
        self.device = device
        self.extra = extra


_args = None
_write_lock = threading.Lock()
_stop = threading.Event()


def args(argv=None):
    """Parses the worker's arguments from `argv` (default sys.argv[1:]).

    With argv=None the result is parsed once and cached. Raises ConfigError
    for a --threads that is not a positive integer.
    """
    global _args
    if argv is None and _args is not None:
        return _args
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--config")
    parser.add_argument("--checkpoint-dir", dest="checkpoint_dir")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--threads")
    parser.add_argument("--device", default="cpu")
    known, extra = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    threads = None
    if known.threads is not None:
        try:
            threads = int(known.threads)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ConfigError("--threads: expected a positive integer, got %r" % known.threads)
    parsed = Args(known.config, known.checkpoint_dir, known.resume, threads, known.device, extra)
    if argv is None:
        _args = parsed
    return parsed


def config(path=None):
    """The job's config: the JSON object in `path`, default the --config file.

    The worker writes the coordinator's config text to
    <attempt folder>/config.json and passes ``--config`` with its absolute
    path. Returns a dict. Raises ConfigError when no path is given, the file
    cannot be read, or it does not hold one JSON object.
    """
    if path is None:
        path = args().config
    if path is None:
        raise ConfigError("no --config FILE given")
    try:
        with open(path, "r", encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError("--config %s: %s" % (path, e))
    if not isinstance(value, dict):
        raise ConfigError("--config %s: not a JSON object" % path)
    return value


def checkpoint_dir():
    """The --checkpoint-dir folder (absolute when the worker runs it), or None."""
    return args().checkpoint_dir


def device():
    """The --device: "cuda:0" on a GPU slot (its GPU is the only one visible),
    "cpu" on a CPU slot and when not given."""
    return args().device


def threads():
    """The --threads count, or None when not given."""
    return args().threads


def checkpoint_path(step, folder=None):
    """"<folder>/ckpt-<step>.pt", folder defaulting to checkpoint_dir().

    Raises ValueError without a folder or for a negative step.
    """
    folder = checkpoint_dir() if folder is None else folder
    if folder is None:
        raise ValueError("no --checkpoint-dir given")
    return os.path.join(folder, "ckpt-%d.pt" % _step(step))


def _checkpoints(folder):
    found = []
    try:
        names = os.listdir(folder)
    except OSError:
        return found
    for name in names:
        m = _CHECKPOINT_NAME.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(folder, name)))
    found.sort()
    return found


def resume_path():
    """The checkpoint to resume from: the newest ckpt-<step>.pt in the
    checkpoint folder when --resume was given, else None.

    The worker passes --resume only after it downloaded the job's last
    uploaded checkpoint into the folder as ckpt-<step>.pt, byte for byte what
    an earlier attempt wrote.
    """
    a = args()
    if not a.resume or a.checkpoint_dir is None:
        return None
    found = _checkpoints(a.checkpoint_dir)
    return found[-1][1] if found else None


def resume_step():
    """The step of resume_path()'s checkpoint (from its file name), or None."""
    a = args()
    if not a.resume or a.checkpoint_dir is None:
        return None
    found = _checkpoints(a.checkpoint_dir)
    return found[-1][0] if found else None


def _step(step):
    if isinstance(step, bool):
        raise ValueError("step must be a non-negative integer, got %r" % (step,))
    if isinstance(step, float):
        if not math.isfinite(step) or step != math.floor(step):
            raise ValueError("step must be a non-negative integer, got %r" % (step,))
        step = int(step)
    if not isinstance(step, int) or step < 0:
        raise ValueError("step must be a non-negative integer, got %r" % (step,))
    return step


def _finite(value):
    # JSON has no NaN or Infinity, and the worker drops a line holding them
    # whole: they become null, which it skips key by key.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _write(obj):
    line = json.dumps(_finite(obj), allow_nan=False, separators=(",", ":"))
    if len(line.encode("utf-8")) >= MAX_LINE_BYTES:
        raise ValueError("a protocol line must be shorter than %d bytes" % MAX_LINE_BYTES)
    with _write_lock:
        # sys.stdout looked up per call, so that a test may replace it.
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return line


def log(step, **metrics):
    """Writes one metrics line, {"step": step, **metrics}, and flushes.

    Every numeric value becomes a metric point named by its key at `step`
    (an "epoch" too). Non-finite floats are written as null, which the worker
    skips; strings and booleans are skipped by the worker as well. Keys named
    summary, error or checkpoint would change the line's kind and raise
    ValueError, as do a negative or fractional step and a line of 4 MiB or
    more. Returns the line written (without its newline).
    """
    for key in _RESERVED_KEYS:
        if key in metrics:
            raise ValueError("%r is not a metric name: it marks another kind of line" % key)
    for key in metrics:
        if not key:
            raise ValueError("metric names must not be empty")
    line = {"step": _step(step)}
    line.update(metrics)
    return _write(line)


def announce_checkpoint(path, step):
    """Writes {"checkpoint": path, "step": step}: the file at `path` is
    complete. The worker takes the file (a hard link or a copy) when it reads
    the line, and uploads the newest announced one once the metrics printed
    before it are stored. `path` is absolute or relative to the attempt
    folder (the working directory). Returns the line written.
    """
    if not path:
        raise ValueError("a checkpoint line needs a path")
    return _write({"checkpoint": str(path), "step": _step(step)})


def write_checkpoint(step, save, folder=None):
    """Writes checkpoint_path(step) and announces it.

    `save` is bytes to write, or a callable taking a path and writing the
    file there (e.g. ``lambda p: torch.save(state, p)``). It writes under a
    temporary name in the same folder, flushes it to disk, renames it to
    ckpt-<step>.pt, and only then prints the checkpoint line. Returns the
    path.
    """
    final = checkpoint_path(step, folder)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    temp = "%s.tmp-%d" % (final, os.getpid())
    try:
        if callable(save):
            save(temp)
        else:
            with open(temp, "wb") as f:
                f.write(save)
        with open(temp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temp, final)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    announce_checkpoint(final, step)
    return final


def summary(**fields):
    """Writes the summary line, {"summary": true, **fields}, at the end of a
    finished job. The worker stores the last one with the attempt when it
    succeeds. Returns the line written."""
    line = {"summary": True}
    line.update(fields)
    return _write(line)


def error(message, exit_code=EXIT_FAILED, step=None):
    """Writes the error line {"error": message, "exit_code": .., "step": ..}
    before a non-zero exit. The worker puts the message (cut to 2,000
    characters) in the attempt's cause; the exit code, not this line, decides
    the outcome. Returns the line written."""
    line = {"error": str(message), "exit_code": int(exit_code)}
    if step is not None:
        line["step"] = _step(step)
    return _write(line)


def fail(message, exit_code=EXIT_FAILED, step=None):
    """Writes the error line, says the message on stderr, and exits with
    `exit_code` (EXIT_BAD_CONFIG, EXIT_FAILED or EXIT_ENVIRONMENT)."""
    error(message, exit_code, step)
    sys.stderr.write("%s\n" % message)
    sys.stderr.flush()
    sys.exit(exit_code)


def should_stop():
    """True once SIGTERM (or SIGINT) arrived, or request_stop() was called:
    write a checkpoint, announce it, and exit EXIT_STOPPED."""
    return _stop.is_set()


def stop_at_epoch_end():
    """True once the sweep's scheduler asked this job to stop at its next
    epoch boundary (the worker created the file named in SWITCHYARD_STOP_FILE).
    Check it after an epoch's line; then write a checkpoint, announce it and
    exit EXIT_STOPPED. False when the program runs outside a worker."""
    path = os.environ.get("SWITCHYARD_STOP_FILE")
    return bool(path) and os.path.exists(path)


def request_stop():
    """Sets the flag should_stop() reads, as the signal handler does."""
    _stop.set()


def _on_stop_signal(signum, frame):
    _stop.set()


def install_stop_handler():
    """Makes SIGTERM and SIGINT set the should_stop() flag. Done on import
    when imported on the main thread; call it from the main thread otherwise
    (signal.signal raises ValueError on other threads)."""
    signal.signal(signal.SIGTERM, _on_stop_signal)
    signal.signal(signal.SIGINT, _on_stop_signal)


if threading.current_thread() is threading.main_thread():
    install_stop_handler()
