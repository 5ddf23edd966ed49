#!/usr/bin/python3
"""bench/search: what ASHA saves against a full random search, side by side
in one run on this machine, with a real coordinator, a real worker and real
LibTorch training (issue 19).

    flock /tmp/switchyard-bench.lock /usr/bin/python3 bench/search/search.py \\
        --build-dir build

The sweep: the transformer at the small preset on IARC (epochs of 50 steps
of 250 windows, 2,000 held-out windows: a quarter of the job defaults, so
that both runs fit in minutes), lr log-uniform over [1e-4, 3e-2], layers in {1, 2, 4}, width in {20, 40}, --trials random
trials (27 by default), drawn from one seed so that both runs train the same
trials. It runs twice on the same worker, one after the other:
  full  every trial trains --max-epochs epochs;
  asha  the same trials under {kind: asha, metric: accuracy, mode: max,
        min_epochs: 1, max_epochs: --max-epochs, reduction: 3}.

For each run it prints the trainer-seconds spent (the attempts' durations
summed), the wall time (submit to the sweep's end), the best final accuracy
(of a job that trained every epoch) and the trainer-seconds spent until a
configuration first reached within 0.01 of the full run's best accuracy
(the attempts' time up to the first such epoch line), then the ratios.
Target: ASHA gets within 0.01 of the full run's best with at most a third
of the full run's trainer-seconds.

--smoke: 9 trials of 3 epochs of 2 steps (the ctest case bench_search_smoke),
so the script cannot rot. Exit status 1 when a run failed; an unmet target
is reported, not a failure.
"""
import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

TOLERANCE = 0.01


def sweep_file(args, asha):
    lines = [
        "name: bench-search-%s" % ("asha" if asha else "full"),
        "model: transformer",
        "preset: small",
        "tasks: IARC",
        "lr: {log_uniform: [1.0e-4, 3.0e-2]}",
        "layers: {choice: [1, 2, 4]}",
        "width: {choice: [20, 40]}",
        "search: {method: random, trials: %d, seed: %d}" % (args.trials, args.seed),
        "steps_per_epoch: %d" % args.steps_per_epoch,
        "batch_size: %d" % args.batch_size,
        "eval_windows: %d" % args.eval_windows,
        "checkpoint_every: 0",
    ]
    if asha:
        lines.append("scheduler: {kind: asha, metric: accuracy, mode: max, min_epochs: 1, "
                     "max_epochs: %d, reduction: 3}" % args.max_epochs)
    else:
        lines.append("epochs: %d" % args.max_epochs)
    return "\n".join(lines) + "\n"


class Cluster:
    """A coordinator and one worker on loopback, in a folder of their own."""

    def __init__(self, bin_dir, work, slots):
        self.bin_dir, self.work = bin_dir, work
        self.data = os.path.join(work, "coordinator")
        self.coordinator = subprocess.Popen(
            [os.path.join(bin_dir, "switchyard-coordinator"), "--data-dir", self.data,
             "--listen", "127.0.0.1:0", "--heartbeat-seconds", "1", "--sync", "normal"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(work, "coordinator.log"), "w"),
            text=True)
        line = self.coordinator.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError("the coordinator did not start: see %s/coordinator.log" % work)
        self.address = line.split()[-1]
        self.worker = subprocess.Popen(
            [os.path.join(bin_dir, "switchyard-worker"), "--coordinator", self.address,
             "--token-file", os.path.join(self.data, "worker.token"), "--devices", "cpu",
             "--slots-per-device", str(slots), "--threads-per-slot", "1",
             "--work-dir", os.path.join(work, "worker"), "--name", "bench-search"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "worker.log"), "w"))

    def cli(self, *argv, check=True):
        result = subprocess.run(
            [os.path.join(self.bin_dir, "switchyard"), "--coordinator", self.address,
             "--token-file", os.path.join(self.data, "client.token")] + list(argv),
            capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError("switchyard %s: exit %d: %s" % (
                " ".join(argv), result.returncode, result.stderr.strip()))
        return result

    def run_sweep(self, path):
        sweep = int(self.cli("submit", path).stdout.strip())
        watched = self.cli("watch", str(sweep), check=False)
        if watched.returncode != 0:
            raise RuntimeError("watch %d: exit %d: %s" % (
                sweep, watched.returncode, watched.stderr.strip()[-600:]))
        return sweep

    def stop(self):
        for process in (self.worker, self.coordinator):
            process.send_signal(signal.SIGTERM)
        for process in (self.worker, self.coordinator):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def figures(db, sweep, target):
    """The run's figures from the database; `target` may be None."""
    created, finished = db.execute(
        "SELECT created_at, finished_at FROM sweeps WHERE id = ?", (sweep,)).fetchone()
    attempts = db.execute(
        "SELECT a.started_at, a.ended_at FROM attempts a JOIN jobs j ON j.id = a.job_id "
        "WHERE j.sweep_id = ? AND a.ended_at IS NOT NULL", (sweep,)).fetchall()
    best = db.execute(
        "SELECT MAX(l.value) FROM metric_last l JOIN metric_names n ON n.id = l.name_id "
        "JOIN jobs j ON j.id = l.job_id WHERE j.sweep_id = ? AND j.state = 3 "
        "AND n.name = 'accuracy'", (sweep,)).fetchone()[0]
    out = {
        "trainer_seconds": sum(end - start for start, end in attempts),
        "wall_seconds": finished - created,
        "best": best,
        "jobs": db.execute("SELECT COUNT(*) FROM jobs WHERE sweep_id = ?", (sweep,)).fetchone()[0],
        "attempts": len(attempts),
        "epochs_trained": db.execute(
            "SELECT COALESCE(SUM(e), 0) FROM (SELECT MAX(m.value) AS e FROM metrics m "
            "JOIN metric_names n ON n.id = m.name_id JOIN jobs j ON j.id = m.job_id "
            "WHERE j.sweep_id = ? AND n.name = 'epoch' GROUP BY m.job_id)", (sweep,)).fetchone()[0],
    }
    out["to_target"] = None
    if target is not None:
        first = db.execute(
            "SELECT MIN(m.wall_time) FROM metrics m JOIN metric_names n ON n.id = m.name_id "
            "JOIN jobs j ON j.id = m.job_id WHERE j.sweep_id = ? AND n.name = 'accuracy' "
            "AND m.value >= ?", (sweep, target)).fetchone()[0]
        if first is not None:
            out["to_target"] = sum(max(0.0, min(end, first) - start) for start, end in attempts)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--trials", type=int, default=27)
    parser.add_argument("--max-epochs", type=int, default=27)
    parser.add_argument("--steps-per-epoch", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--eval-windows", type=int, default=2000)
    parser.add_argument("--slots", type=int, default=2, help="CPU slots of the worker")
    parser.add_argument("--seed", type=int, default=1, help="the search's seed")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if args.smoke:
        args.trials, args.max_epochs, args.steps_per_epoch = 9, 3, 2
        args.batch_size, args.eval_windows = 16, 64
    bin_dir = os.path.abspath(os.path.join(args.build_dir, "bin"))
    for name in ("switchyard", "switchyard-coordinator", "switchyard-worker", "switchyard-train"):
        if not os.access(os.path.join(bin_dir, name), os.X_OK):
            sys.exit("bench/search: %s/%s is missing; build first" % (bin_dir, name))

    work = tempfile.mkdtemp(prefix="switchyard-bench-search.")
    cluster = None
    failed = False
    try:
        cluster = Cluster(bin_dir, work, args.slots)
        sweeps = {}
        for name in ("full", "asha"):
            path = os.path.join(work, name + ".yaml")
            with open(path, "w") as f:
                f.write(sweep_file(args, asha=name == "asha"))
            started = time.monotonic()
            sweeps[name] = cluster.run_sweep(path)
            print("%s: sweep %d done in %.0f s" % (name, sweeps[name], time.monotonic() - started),
                  flush=True)
        db = sqlite3.connect(os.path.join(cluster.data, "switchyard.db"), timeout=30)
        full = figures(db, sweeps["full"], None)
        target = full["best"] - TOLERANCE
        full = figures(db, sweeps["full"], target)
        asha = figures(db, sweeps["asha"], target)
    except (RuntimeError, OSError, sqlite3.Error) as e:
        print("bench/search: %s" % e, file=sys.stderr)
        failed = True
    finally:
        if cluster is not None:
            cluster.stop()
        if args.keep or failed:
            print("work folder kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        return 1

    def cell(v, fmt):
        return "-" if v is None else fmt % v

    print()
    print("%d trials x %d epochs of %d steps (batch %d), %d CPU slots of 1 thread" % (
        args.trials, args.max_epochs, args.steps_per_epoch, args.batch_size, args.slots))
    print("%-5s %5s %9s %15s %8s %15s %24s" % (
        "run", "jobs", "attempts", "trainer-seconds", "wall s", "best accuracy",
        "trainer-s to best-%.2f" % TOLERANCE))
    for name, f in (("full", full), ("asha", asha)):
        print("%-5s %5d %9d %15.1f %8.1f %15s %24s" % (
            name, f["jobs"], f["attempts"], f["trainer_seconds"], f["wall_seconds"],
            cell(f["best"], "%.4f"), cell(f["to_target"], "%.1f")))
    print("epochs trained: full %d, asha %d" % (full["epochs_trained"], asha["epochs_trained"]))
    print("ratios asha/full: trainer-seconds %.3f, wall %.3f" % (
        asha["trainer_seconds"] / full["trainer_seconds"],
        asha["wall_seconds"] / full["wall_seconds"]))
    if asha["to_target"] is None:
        print("target NOT met: ASHA never came within %.2f of the full run's best %.4f" % (
            TOLERANCE, full["best"]))
    else:
        share = asha["to_target"] / full["trainer_seconds"]
        print("ASHA within %.2f of the full best after %.1f trainer-seconds = %.3f of the full "
              "run's %.1f (target <= 0.333: %s)" % (
                  TOLERANCE, asha["to_target"], share, full["trainer_seconds"],
                  "met" if share <= 1 / 3 else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
