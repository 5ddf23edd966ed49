#!/usr/bin/python3
"""bench/compare: Switchyard against what its users would run instead, on this
machine, each pair measured in the same run, with the same process counts.

    flock /tmp/switchyard-bench.lock /usr/bin/python3 bench/compare/compare.py \\
        --build-dir build [--write-docs]

Parts (each repetition of a part runs every system once, interleaved, after
a warm-up that is not counted):
  dispatch  N no-op jobs with 1, 8 and 32 concurrent workers:
            Switchyard (compare_switchyard dispatch: worker processes doing the
            real ClaimJob/FinishJob RPCs on a sweep with epochs 0),
            Optuna 3.1 ask/tell on SQLite (optuna_side.py, one process per
            worker), and a one-node Slurm (tests/e2e/slurm/slurm_cluster.sh)
            running the same count as a job array throttled to P tasks at once.
  ingest    32 concurrent writers, 10 metrics per step: Switchyard's
            ReportMetrics streams, Optuna's trial.report (32 processes), and
            one C++ writer straight into SQLite (per batch, and the ceiling).
  export    the full-resolution series of a sweep of --export-jobs jobs to CSV:
            `switchyard export` against study.trials_dataframe().to_csv().
  train     bench/train_throughput's C++ / PyTorch ratio per model.

Prints the tables; --write-docs replaces the section "Against the
alternatives" of docs/benchmarks.md. --smoke: tiny counts, every part, no
docs (the ctest case bench_compare_smoke). Exit status 1 when a part failed
or Switchyard lost or failed an operation; unmet targets are reported, not
failures. Run it with /usr/bin/python3 (Debian's python3-optuna).
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OPTUNA_SIDE = os.path.join(HERE, "optuna_side.py")
SLURM_CLUSTER = os.path.join(ROOT, "tests", "e2e", "slurm", "slurm_cluster.sh")
PYTHON = "/usr/bin/python3"

# Slurm settings for the job array. The test cluster's slurm.conf
# (slurm_cluster.sh) plus what Slurm's high-throughput guide suggests for many
# short jobs, so that the baseline gets its best shot:
#   config_overrides: the node declares 32 CPUs (one per concurrent task) on
#       this 2-core machine; without it slurmd drains a node that has fewer.
#   sched/builtin: strict FIFO; backfill only adds work for a one-node queue.
#   sched_min_interval=0, batch_sched_delay=0: schedule on every event
#       (submit, task end) with no minimum gap or batching delay.
#   default_queue_depth=1000: consider the whole array on each event.
#   Slurm{ctld,d}Debug=error: less logging on the critical path.
#   MinJobAge=2: purge finished tasks quickly so slurmctld's list stays short.
SLURM_TUNING = "\n".join([
    "SlurmdParameters=config_overrides",
    "SchedulerType=sched/builtin",
    "SchedulerParameters=sched_min_interval=0,batch_sched_delay=0,default_queue_depth=1000",
    "SlurmctldDebug=error",
    "SlurmdDebug=error",
    "MinJobAge=2",
])


def log(message):
    print("compare: " + message, file=sys.stderr, flush=True)


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def spread(values):
    """(median, min, max) of a list of numbers."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def percentile(values, q):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def run_json_lines(command, **kwargs):
    """Runs command; returns (exit status, [JSON objects printed one per line])."""
    log(" ".join(command))
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, **kwargs)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, rows


# ------------------------------------------------------------------ Switchyard

class Switchyard:
    def __init__(self, args, work):
        self.binary = os.path.join(args.build_dir, "bin", "compare_switchyard")
        if not os.access(self.binary, os.X_OK):
            sys.exit("compare: %s is not built (cmake --build %s --target compare_switchyard)"
                     % (self.binary, args.build_dir))
        self.args = args
        self.work = work
        self.failed = False

    def run(self, mode, *flags):
        status, rows = run_json_lines(
            [self.binary, mode, "--reps", "1", "--sync", self.args.sync,
             "--work-dir", os.path.join(self.work, "switchyard-" + mode)] + [str(f) for f in flags])
        shutil.rmtree(os.path.join(self.work, "switchyard-" + mode), ignore_errors=True)
        if status != 0 or not rows:
            log("compare_switchyard %s failed (exit %d)" % (mode, status))
            self.failed = True
        return rows[0] if rows else None

    def dispatch(self, jobs, workers):
        return self.run("dispatch", "--jobs", jobs, "--workers", workers)

    def ingest(self, streams, points):
        return self.run("ingest", "--streams", streams, "--points", points)

    def export(self, jobs, steps):
        return self.run("export", "--jobs", jobs, "--steps", steps, "--metrics", 10)


# ---------------------------------------------------------------------- Optuna

class Optuna:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.count = 0
        self.failed = False

    def fresh_study(self):
        """A new SQLite file with one empty study; (db path, study name)."""
        self.count += 1
        db = os.path.join(self.work, "optuna-%d.db" % self.count)
        subprocess.run([PYTHON, "-c", (
            "import optuna, sys; optuna.logging.set_verbosity(optuna.logging.WARNING); "
            "optuna.create_study(study_name='bench', storage='sqlite:///' + sys.argv[1])"), db],
            check=True)
        return db, "bench"

    def dispatch(self, jobs, workers):
        db, _ = self.fresh_study()
        shares = [jobs // workers + (1 if i < jobs % workers else 0) for i in range(workers)]
        log("optuna dispatch: %d trials, %d processes" % (jobs, workers))
        # Every process gets its share (they differ by at most one).
        _, results = self.workers_shares("dispatch-worker", db, shares)
        starts = [s * 1000 for r in results for s in r["starts"]]
        asks = [a for r in results for a in r["ask_ms"]]
        seconds = max(r["end"] for r in results)
        return {"jobs": len(starts), "seconds": seconds, "jobs_per_s": len(starts) / seconds,
                "p50_ms": percentile(starts, 0.5), "p99_ms": percentile(starts, 0.99),
                "claim_p50_ms": percentile(asks, 0.5), "claim_p99_ms": percentile(asks, 0.99),
                "locked": sum(r["locked"] for r in results),
                "other_failures": sum(r["other_failures"] for r in results),
                "first_failure": next((r["first_failure"] for r in results
                                       if r["first_failure"]), "")}

    def workers_shares(self, mode, db, shares):
        procs = []
        for share in shares:
            procs.append(subprocess.Popen(
                [PYTHON, OPTUNA_SIDE, mode, "--db", db, "--study", "bench",
                 "--timeout", str(self.args.optuna_timeout), "--trials", str(share)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        return self._go(procs, mode, db)

    def _go(self, procs, mode, db):
        for p in procs:
            line = p.stdout.readline().strip()
            if line != "ready":
                self.failed = True
                raise RuntimeError("optuna_side.py %s: %r" % (mode, line))
        t0 = time.monotonic()
        for p in procs:
            p.stdin.write("go %.9f\n" % t0)
            p.stdin.flush()
        results = []
        for p in procs:
            out = p.stdout.read()
            p.wait()
            if p.returncode != 0:
                self.failed = True
                raise RuntimeError("optuna_side.py %s exited %d" % (mode, p.returncode))
            results.append(json.loads(out))
        os.remove(db)
        return t0, results

    def ingest(self, streams, seconds, points_each):
        db, _ = self.fresh_study()
        log("optuna ingest: %d processes for %.0f s" % (streams, seconds))
        procs = [subprocess.Popen(
            [PYTHON, OPTUNA_SIDE, "ingest-worker", "--db", db, "--study", "bench",
             "--timeout", str(self.args.optuna_timeout), "--points", str(points_each),
             "--seconds", str(seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(streams)]
        _, results = self._go(procs, "ingest-worker", db)
        points = sum(r["points"] for r in results)
        elapsed = max(r["end"] for r in results)
        lags = [lag for r in results for lag in r["lag_ms"]]
        return {"points": points, "seconds": elapsed, "points_per_s": points / elapsed,
                "lag_p50_ms": percentile(lags, 0.5), "lag_p99_ms": percentile(lags, 0.99),
                "locked": sum(r["locked"] for r in results),
                "other_failures": sum(r["other_failures"] for r in results)}

    def populate(self, jobs, values):
        db = os.path.join(self.work, "optuna-export.db")
        out = subprocess.run([PYTHON, OPTUNA_SIDE, "populate", "--db", db, "--study", "bench",
                              "--trials", str(jobs), "--values", str(values)],
                             stdout=subprocess.PIPE, text=True, check=True).stdout
        log("optuna populate: " + out.strip())
        return db

    def export(self, db):
        csv = os.path.join(self.work, "optuna-export.csv")
        out = subprocess.run([PYTHON, OPTUNA_SIDE, "export", "--db", db, "--study", "bench",
                              "--out", csv], stdout=subprocess.PIPE, text=True, check=True).stdout
        os.remove(csv)
        return json.loads(out)


# ----------------------------------------------------------------------- Slurm

class Slurm:
    def __init__(self, args, work, cpus):
        self.dir = os.path.join(work, "slurm")
        self.work = work
        self.env = None
        self.runs = 0
        self.why_not = ""
        if os.geteuid() != 0:
            self.why_not = "not root (the test cluster's daemons run as root)"
        elif not shutil.which("slurmctld") or not shutil.which("munged"):
            self.why_not = "slurm-wlm or munge is not installed (scripts/setup.sh)"
        if self.why_not:
            log("Slurm left out: " + self.why_not)
            return
        env = dict(os.environ, SLURM_CLUSTER_CPUS=str(cpus), SLURM_CLUSTER_EXTRA_CONF=SLURM_TUNING)
        log("starting a one-node Slurm in " + self.dir)
        done = subprocess.run(["bash", SLURM_CLUSTER, "start", self.dir], env=env,
                              stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            self.stop()
            raise RuntimeError("the Slurm test cluster did not start")
        self.env = dict(os.environ, SLURM_CONF=os.path.join(self.dir, "etc", "slurm.conf"))

    def stop(self):
        if os.path.isdir(self.dir):
            subprocess.run(["bash", SLURM_CLUSTER, "stop", self.dir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.env = None

    def queue_empty(self, job):
        out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%A"], env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        return not out.strip()

    def dispatch(self, jobs, workers, timeout=1800):
        """A job array of `jobs` no-op tasks, at most `workers` at once."""
        self.runs += 1
        starts = os.path.join(self.work, "slurm-starts-%d" % self.runs)
        script = os.path.join(self.work, "slurm-noop-%d.sh" % self.runs)
        with open(script, "w") as f:
            # $EPOCHREALTIME: bash's clock, no process forked for it.
            f.write("#!/bin/bash\necho \"start $SLURM_ARRAY_TASK_ID $EPOCHREALTIME\" >> %s\n"
                    "echo \"end $SLURM_ARRAY_TASK_ID $EPOCHREALTIME\" >> %s\n" % (starts, starts))
        os.chmod(script, 0o755)
        log("slurm dispatch: array of %d, %d at once" % (jobs, workers))
        t0 = time.time()
        job = subprocess.run(["sbatch", "--parsable", "--array=0-%d%%%d" % (jobs - 1, workers),
                              "-c", "1", "-o", "/dev/null", "-J", "compare", script],
                             env=self.env, stdout=subprocess.PIPE, text=True,
                             check=True).stdout.strip()
        deadline = time.time() + timeout
        while not self.queue_empty(job):
            if time.time() > deadline:
                subprocess.run(["scancel", job], env=self.env)
                raise RuntimeError("the Slurm array did not end within %d s" % timeout)
            time.sleep(0.25)
        begun, ended = {}, {}
        with open(starts) as f:
            for line in f:
                kind, task, stamp = line.split()
                (begun if kind == "start" else ended)[int(task)] = float(stamp)
        os.remove(starts)
        os.remove(script)
        seconds = max(ended.values()) - t0 if ended else float("nan")
        waits = [(s - t0) * 1000 for s in begun.values()]
        return {"jobs": len(ended), "seconds": seconds, "jobs_per_s": len(ended) / seconds,
                "p50_ms": percentile(waits, 0.5), "p99_ms": percentile(waits, 0.99),
                "not_run": jobs - len(ended)}


# ------------------------------------------------------------------- training

def training(args):
    binary = os.path.join(args.build_dir, "bin", "train_throughput")
    if not os.access(binary, os.X_OK):
        log("training left out: %s is not built" % binary)
        return None, "train_throughput is not built"
    command = [binary] + args.train.split()
    log(" ".join(command))
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rows = parse_markdown_table(done.stdout)
    if done.returncode != 0 or not rows:
        log("train_throughput failed (exit %d):\n%s" % (done.returncode, done.stdout[-2000:]))
        return None, "train_throughput failed"
    return rows, " ".join(["train_throughput"] + args.train.split())


def parse_markdown_table(text):
    """Rows of the first Markdown table in text, as dicts keyed by the header
    cells (whatever columns the benchmark prints today)."""
    header, rows = None, []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            if header and rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if header is None:
            header = cells
        elif all(set(c) <= set("-: ") for c in cells):
            continue
        else:
            rows.append(dict(zip(header, cells)))
    return rows


# ------------------------------------------------------------------- the runs

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1000, help="no-op jobs per dispatch run")
    parser.add_argument("--slurm-jobs", type=int, default=200,
                        help="array tasks per Slurm dispatch run (Slurm starts about one task "
                             "per second with one at a time, so --jobs would take hours)")
    parser.add_argument("--workers", default="1,8,32")
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--points", type=int, default=1_000_000,
                        help="points per Switchyard ingest run (all streams)")
    parser.add_argument("--optuna-seconds", type=float, default=10,
                        help="how long the Optuna writers report, per run")
    parser.add_argument("--optuna-timeout", type=float, default=30,
                        help="SQLite busy timeout of the Optuna processes, seconds")
    parser.add_argument("--export-jobs", type=int, default=1000)
    parser.add_argument("--export-steps", type=int, default=100, help="x 10 metrics per job")
    parser.add_argument("--train", default="--preset paper --steps 3 --threads 2 --rounds 2",
                        help="flags for train_throughput ('' leaves training out)")
    parser.add_argument("--parts", default="dispatch,ingest,export,train")
    parser.add_argument("--sync", default="full")
    parser.add_argument("--no-slurm", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--json", help="also write every raw result here")
    parser.add_argument("--render-json", metavar="FILE",
                        help="run nothing: print (and with --write-docs write) the tables of a "
                             "run saved with --json")
    args = parser.parse_args()
    if args.render_json:
        with open(args.render_json) as f:
            results = json.load(f)
        write = args.write_docs
        args = argparse.Namespace(**results["args"])
        text, _ = render(results, args)
        print(text)
        if write:
            write_docs(text, results["argv"])
        return 0
    if args.smoke:
        args.reps, args.jobs, args.slurm_jobs, args.workers = 1, 8, 8, "2"
        args.streams, args.points, args.optuna_seconds = 4, 4000, 1
        args.export_jobs, args.export_steps = 10, 10
        args.train = "--preset small --steps 1 --only mlp" if args.train else ""
        args.write_docs = False
    workers = [int(w) for w in args.workers.split(",")]
    parts = args.parts.split(",")

    work = tempfile.mkdtemp(prefix="switchyard-compare-")
    os.chmod(work, 0o755)  # Slurm jobs and munged want to read into it
    results = {"argv": sys.argv[1:], "args": vars(args), "date": datetime.datetime.utcnow().strftime(
        "%Y-%m-%d %H:%M UTC"), "load_before": load_average(), "nproc": os.cpu_count(),
        "dispatch": [], "ingest": [], "export": [], "train": None}
    switchyard = Switchyard(args, work)
    optuna = Optuna(args, work)
    slurm = None

    def cleanup(*_):
        if slurm:
            slurm.stop()
        shutil.rmtree(work, ignore_errors=True)
        if _:
            sys.exit(1)

    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)
    broken = []
    try:
        if "dispatch" in parts:
            if not args.no_slurm:
                slurm = Slurm(args, work, max(workers))
                if slurm.why_not:
                    results["slurm_left_out"] = slurm.why_not
                    slurm = None
                else:
                    slurm.dispatch(max(workers), max(workers))  # warm-up
            for p in workers:
                for rep in range(1, args.reps + 1):
                    row = {"workers": p, "rep": rep, "load": load_average()}
                    row["switchyard"] = switchyard.dispatch(args.jobs, p)
                    row["optuna"] = optuna.dispatch(args.jobs, p)
                    if slurm:
                        row["slurm"] = slurm.dispatch(args.slurm_jobs, p)
                    results["dispatch"].append(row)
            if slurm:
                slurm.stop()
                slurm = None
        if "ingest" in parts:
            for rep in range(1, args.reps + 1):
                row = {"rep": rep, "load": load_average()}
                row["switchyard"] = switchyard.ingest(args.streams, args.points)
                row["optuna"] = optuna.ingest(args.streams, args.optuna_seconds,
                                              args.points // args.streams)
                results["ingest"].append(row)
        if "export" in parts:
            values = args.export_steps * 10
            db = optuna.populate(args.export_jobs, values)
            optuna.export(db)  # warm-up (imports, page cache)
            for rep in range(1, args.reps + 1):
                row = {"rep": rep, "load": load_average()}
                row["switchyard"] = switchyard.export(args.export_jobs, args.export_steps)
                row["optuna"] = optuna.export(db)
                results["export"].append(row)
        if "train" in parts and args.train:
            results["train"], results["train_command"] = training(args)
            if results["train"] is None and not (
                    args.smoke and results["train_command"].endswith("not built")):
                broken.append("training: " + results["train_command"])
    except Exception as error:  # noqa: BLE001 -- reported, then exit 1
        broken.append("%s: %s" % (type(error).__name__, error))
    finally:
        cleanup()
    results["load_after"] = load_average()
    if switchyard.failed:
        broken.append("Switchyard lost or failed an operation (see above)")
    if optuna.failed:
        broken.append("an Optuna process failed")

    text, targets = render(results, args)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.write_docs and not broken:
        write_docs(text, sys.argv[1:])
    for problem in broken:
        log("FAILED: " + problem)
    return 1 if broken else 0


# ------------------------------------------------------------------- the table

def fmt(value, digits=0):
    if value is None:
        return "-"
    if isinstance(value, float) and value != value:
        return "nan"
    if digits == 0:
        return "{:,.0f}".format(value)
    return "{:,.{d}f}".format(value, d=digits)


def fmt_spread(values, digits=0):
    s = spread(values)
    if s is None:
        return "-"
    median, low, high = s
    return "%s (%s-%s)" % (fmt(median, digits), fmt(low, digits), fmt(high, digits))


def digits_for(values):
    s = spread(values)
    if s is None:
        return 0
    return 0 if s[0] >= 100 else (1 if s[0] >= 10 else 2)


def cell(values):
    return fmt_spread(values, digits_for(values))


def ratio_cell(numerators, denominators):
    ratios = [n / d for n, d in zip(numerators, denominators) if n is not None and d]
    if not ratios:
        return "-", None
    median = statistics.median(ratios)
    d = digits_for(ratios)
    return "%sx (%s-%s)" % (fmt(median, d), fmt(min(ratios), d), fmt(max(ratios), d)), median


def get(rows, system, key):
    return [r[system][key] if r.get(system) else None for r in rows]


def render(results, args):
    out = []
    targets = []
    out.append("Measured %s, %d cores, load average %s before and %s after; figures are "
               "median (min-max) over %d repetitions, each after a warm-up."
               % (results["date"], results["nproc"], results["load_before"],
                  results["load_after"], args.reps))
    if results["dispatch"]:
        have_slurm = any(r.get("slurm") for r in results["dispatch"])
        out.append("")
        slurm_jobs = getattr(args, "slurm_jobs", args.jobs)
        out.append("Dispatch: %d no-op jobs%s, time 0 at submission (Switchyard: SubmitSweep; "
                   "Optuna: the go signal, a trial exists once ask() returns; Slurm: sbatch)."
                   % (args.jobs, " (Slurm: %d array tasks)" % slurm_jobs
                      if have_slurm and slurm_jobs != args.jobs else ""))
        out.append("")
        head = "| workers | measure | Switchyard | Optuna | "
        head += "Slurm array | " if have_slurm else ""
        head += "Switchyard / Optuna |" + (" Switchyard / Slurm |" if have_slurm else "")
        out.append(head)
        out.append("|" + " --- |" * 2 + " ---: |" * (head.count("|") - 3))
        for p in sorted({r["workers"] for r in results["dispatch"]}):
            rows = [r for r in results["dispatch"] if r["workers"] == p]
            sy, op = get(rows, "switchyard", "jobs_per_s"), get(rows, "optuna", "jobs_per_s")
            sl = get(rows, "slurm", "jobs_per_s")
            r_op, m_op = ratio_cell(sy, op)
            r_sl, _ = ratio_cell(sy, sl)
            line = "| %d | jobs/s | %s | %s | " % (p, cell(sy), cell(op))
            line += ("%s | " % cell(sl)) if have_slurm else ""
            line += r_op + " |" + ((" " + r_sl + " |") if have_slurm else "")
            out.append(line)
            for key, label in (("p50_ms", "submit to start p50, ms"),
                               ("p99_ms", "submit to start p99, ms"),
                               ("claim_p50_ms", "claim / ask() p50, ms"),
                               ("claim_p99_ms", "claim / ask() p99, ms")):
                line = "| %d | %s | %s | %s | " % (p, label, cell(get(rows, "switchyard", key)),
                                                  cell(get(rows, "optuna", key)))
                if have_slurm:
                    line += ("%s | " % cell(get(rows, "slurm", key))
                             if key in ("p50_ms", "p99_ms") else "- | ")
                line += "|" + (" |" if have_slurm else "")
                out.append(line)
            sy_fail = sum((r["switchyard"] or {}).get("failures", 1) +
                          (r["switchyard"] or {}).get("not_succeeded", 1) for r in rows)
            locked = sum(r["optuna"]["locked"] for r in rows)
            other = sum(r["optuna"]["other_failures"] for r in rows)
            line = "| %d | failed or lost ops (all reps) | %d | %d locked, %d other | " % (
                p, sy_fail, locked, other)
            if have_slurm:
                line += "%d | " % sum(r["slurm"]["not_run"] for r in rows)
            line += "|" + (" |" if have_slurm else "")
            out.append(line)
            targets.append(("dispatch, %d worker(s): Switchyard >= 50x Optuna" % p,
                            m_op is not None and m_op >= 50, r_op))
            targets.append(("dispatch, %d worker(s): no failed or lost Switchyard op" % p,
                            sy_fail == 0, "%d" % sy_fail))
    if results["ingest"]:
        rows = results["ingest"]
        out.append("")
        out.append("Metric ingestion: %d concurrent writers, 10 metrics per step. Switchyard: "
                   "%s points per run over ReportMetrics streams (batches of 500, one in "
                   "flight); Optuna: trial.report() for %.0f s per run; raw SQLite: one C++ "
                   "writer, the same rows as Switchyard. Lag: from a point's logging to its "
                   "commit (then it is queryable): per batch for Switchyard and raw SQLite, per "
                   "call for Optuna." % (args.streams, fmt(args.points), args.optuna_seconds))
        out.append("")
        out.append("| measure | Switchyard | Optuna | raw SQLite, commit per 500 | ceiling: raw "
                   "SQLite, 50k per commit |")
        out.append("| --- | ---: | ---: | ---: | ---: |")
        sy = get(rows, "switchyard", "points_per_s")
        op = get(rows, "optuna", "points_per_s")
        raw = get(rows, "switchyard", "raw_batch_points_per_s")
        ceil = get(rows, "switchyard", "ceiling_points_per_s")
        out.append("| points/s | %s | %s | %s | %s |" % (cell(sy), cell(op), cell(raw), cell(ceil)))
        for q in ("p50", "p99"):
            out.append("| lag %s, ms | %s |" % (q, " | ".join(cell(get(rows, system, key % q)) for system, key in (
                ("switchyard", "lag_%s_ms"), ("optuna", "lag_%s_ms"),
                ("switchyard", "raw_batch_lag_%s_ms"), ("switchyard", "ceiling_lag_%s_ms")))))
        sy_fail = sum((r["switchyard"] or {}).get("failures", 1) +
                      (r["switchyard"] or {}).get("lost", 1) for r in rows)
        out.append("| failed or lost ops (all reps) | %d | %d locked, %d other | | |" % (
            sy_fail, sum(r["optuna"]["locked"] for r in rows),
            sum(r["optuna"]["other_failures"] for r in rows)))
        r_op, m_op = ratio_cell(sy, op)
        r_ceil, m_ceil = ratio_cell(sy, ceil)
        out.append("| Switchyard / Optuna | %s | | | |" % r_op)
        pct = "-" if m_ceil is None else "%.0f%%" % (100 * m_ceil)
        out.append("| Switchyard / ceiling | %s | | | |" % pct)
        targets.append(("ingestion: Switchyard >= 50x Optuna", m_op is not None and m_op >= 50,
                        r_op))
        targets.append(("ingestion: Switchyard >= 30% of the raw SQLite ceiling",
                        m_ceil is not None and m_ceil >= 0.3, pct))
        targets.append(("ingestion: no failed or lost Switchyard op", sy_fail == 0,
                        "%d" % sy_fail))
    if results["export"]:
        rows = results["export"]
        out.append("")
        out.append("Export: every point of a %s-job sweep (%s steps x 10 metrics each, %s "
                   "values) to CSV. Switchyard: the `switchyard export` process, start to exit, "
                   "one row per point; Optuna: load_study + trials_dataframe(attrs incl. "
                   "intermediate_values) + to_csv in a warm process (imports not timed), one "
                   "row per trial." % (fmt(args.export_jobs), fmt(args.export_steps),
                                       fmt(args.export_jobs * args.export_steps * 10)))
        out.append("")
        out.append("| measure | Switchyard | Optuna | Switchyard / Optuna |")
        out.append("| --- | ---: | ---: | ---: |")
        sy = get(rows, "switchyard", "seconds")
        op = get(rows, "optuna", "seconds")
        speed, _ = ratio_cell(op, sy)
        out.append("| seconds | %s | %s | %s faster |" % (cell(sy), cell(op), speed))
        out.append("| values written | %s | %s | |" % (
            fmt(rows[0]["switchyard"]["rows"] if rows[0]["switchyard"] else None),
            fmt(rows[0]["optuna"]["values"])))
        out.append("| CSV bytes | %s | %s | |" % (
            fmt(rows[0]["switchyard"]["bytes"] if rows[0]["switchyard"] else None),
            fmt(rows[0]["optuna"]["bytes"])))
    if results["train"]:
        rows = results["train"]
        keys = list(rows[0].keys())
        ratio_keys = [k for k in keys if " / " in k] or keys[-1:]  # not "samples/s"
        label_keys = [k for k in keys if k.lower() in ("model", "attention", "parameters")]
        out.append("")
        out.append("Training (`%s`, its own table's ratios; the C++ trainer against the same "
                   "model in PyTorch):" % results.get("train_command", "train_throughput"))
        out.append("")
        out.append("| " + " | ".join(label_keys + ratio_keys) + " |")
        out.append("|" + " --- |" * len(label_keys) + " ---: |" * len(ratio_keys))
        for row in rows:
            out.append("| " + " | ".join(row.get(k, "") for k in label_keys + ratio_keys) + " |")
    if results.get("slurm_left_out"):
        out.append("")
        out.append("Slurm left out: " + results["slurm_left_out"] + ".")
    if targets:
        out.append("")
        out.append("Targets:")
        out.append("")
        for name, met, value in targets:
            out.append("- %s: %s (%s)" % (name, "met" if met else "**NOT met**", value))
    # Prose paragraphs wrapped as the rest of docs/, tables and lists as they are.
    out = [textwrap.fill(line, 78, break_on_hyphens=False)
           if line and not line.startswith(("|", "-")) else line for line in out]
    return "\n".join(out), targets


DOCS_SECTION = "## Against the alternatives"
# What the docs section says before the generated tables.
NOTES = """\
Switchyard against what its users would run instead, on this machine, each
pair measured in the same run with the same number of processes, the systems
taking turns within each repetition (bench/compare/compare.py; Switchyard's
side is `compare_switchyard`, Optuna's `bench/compare/optuna_side.py`). The
machine is shared with other engineers' builds, so absolute figures move a
lot between runs (the load average is given); the ratios are the result.

- **Switchyard**: a real `switchyard-coordinator` (`--sync full`, the
  default) on loopback. Dispatch uses *simulated* workers, each a separate
  process with its own gRPC connection, doing what `switchyard-worker`
  sends: the first job from `ClaimJob`, then `FinishJob(SUCCEEDED)` at once
  with `claim_next`, so that each later job comes with the previous one's
  report (one committed call per job), until no job comes back; the sweep
  is `seed` x `epochs: 0` (the trainer's no-op config), but no
  `switchyard-worker` or `switchyard-train` process runs. Time 0 is just
  before `SubmitSweep`; a job starts when the call that handed it out
  answers. Slurm runs fewer tasks (`--slurm-jobs`, 200) because it starts
  about one a second when one runs at a time. Ingestion: one
  process per writer, one `ReportMetrics` stream each, batches of 500
  points, one batch in flight (the worker keeps up to 64).
- **Optuna**: Debian's python3-optuna 3.1 on one SQLite file (its default
  rollback journal), `RandomSampler`, a 30 s busy timeout, one process per
  worker. A no-op trial is `ask()`, `suggest_int("seed")`, `tell(0.0)`; time
  0 is the go signal to processes that have imported Optuna, connected and
  run two warm-up trials. Every storage error is counted ("database is
  locked" apart) and the call retried. Optuna keeps one intermediate value
  per step, so the 10 metrics of step s are `report()`ed at steps 10s..10s+9.
  For the export, the 1,000 trials are made with `add_trials` and their
  intermediate values inserted in bulk into Optuna's own table (the rows
  `report()` writes; a million `report()` calls would take about an hour).
- **Slurm**: Debian's slurm-wlm 22.05, a one-node cluster in a temporary
  folder (tests/e2e/slurm/slurm_cluster.sh), the node declaring 32 CPUs;
  `sbatch --array=0-(N-1)%P -c 1` of a bash script that records its start
  and end with `$EPOCHREALTIME`. Settings (compare.py, `SLURM_TUNING`):
  `sched/builtin`, `SchedulerParameters=sched_min_interval=0,
  batch_sched_delay=0,default_queue_depth=1000`, `MinJobAge=2`, debug
  logging at `error`: the high-throughput advice, to give the baseline its
  best case. With the test cluster's plain settings (sched/backfill, info
  logging) a 100-task array at 8 at once ran at 4.1 jobs/s against 9.7 with
  these (one hand run, 2026-12-01). With one task at a time Slurm starts
  about one per second whatever the settings (with or without the `%1`
  throttle).
- **Raw SQLite**: one C++ writer (bench/coordinator/raw_sqlite.cc), the
  coordinator's schema and pragmas (WAL, synchronous FULL), the same rows
  as the Switchyard streams, jobs taking turns: a commit per 500 rows, and
  50,000 rows per commit (the ceiling).
- **Export**: `switchyard export` writes one row per point (long format),
  `trials_dataframe()` one row per trial with a column per step (wide), so
  the files differ in size; both hold every value."""


def docs_argv(argv):
    """The run's flags as the docs show them: build/ as the build folder, no
    file names of this machine."""
    shown, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a in ("--json", "--render-json"):
            skip = True
        elif a == "--build-dir":
            shown += [a, "build"]
            skip = True
        elif a != "--write-docs" and not a.startswith(("--json=", "--build-dir=")):
            shown.append(a)
    return shown + ["--write-docs"]


def write_docs(text, argv):
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    with open(path) as f:
        doc = f.read()
    command = ("    cmake --build build --target compare_switchyard train_throughput "
               "switchyard-train\n"
               "    flock /tmp/switchyard-bench.lock /usr/bin/python3 bench/compare/compare.py "
               + " ".join(docs_argv(argv)) + "\n")
    section = "%s\n\n%s\n%s\n\n%s\n" % (DOCS_SECTION, command, NOTES, text)
    pattern = re.compile(re.escape(DOCS_SECTION) + r"\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: section.rstrip("\n") + "\n", doc)
    else:
        doc = doc.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(doc)
    log("wrote the section '%s' of %s" % (DOCS_SECTION, path))


if __name__ == "__main__":
    sys.exit(main())
