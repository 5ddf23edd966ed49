#!/usr/bin/python3
"""Optuna's side of bench/compare: Optuna 3.1 (Debian's python3-optuna) on one
SQLite file, the way its users run it. compare.py starts these processes; each
prints one JSON object on stdout.

  optuna_side.py dispatch-worker --db F --study S --trials K --timeout 30
      loads the study, warms up on a study of its own, prints "ready", waits for
      "go T0" on stdin (T0: time.monotonic() of the driver), then runs K
      ask / suggest_int("seed") / tell(0.0) trials: a no-op trial.
  optuna_side.py ingest-worker --db F --study S --points N --seconds D
      asks one trial, prints "ready", waits for "go T0", then calls
      trial.report() once per point, 10 points per step (Optuna keeps one
      intermediate value per step, so point m of step s goes to step 10 s + m),
      until N points or D seconds since T0.
  optuna_side.py populate --db F --study S --trials J --values V
      a study of J completed trials (add_trials) of V intermediate values each
      (inserted in bulk into Optuna's own table: see populate()).
  optuna_side.py export --db F --study S --out FILE.csv
      load_study + trials_dataframe(..., "intermediate_values") + to_csv.

Every storage error is caught, counted ("database is locked" apart) and the
call retried, so the counts of trials and points stay those asked for.
"""
import argparse
import json
import os
import sys
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

MAX_TRIES = 20


def storage(args):
    # The timeout is sqlite3's busy timeout: how long a writer waits for the
    # database lock before "database is locked".
    return optuna.storages.RDBStorage(
        "sqlite:///" + os.path.abspath(args.db),
        engine_kwargs={"connect_args": {"timeout": args.timeout}})


class Failures:
    def __init__(self):
        self.locked = 0
        self.other = 0
        self.first = ""

    def count(self, error):
        if "database is locked" in str(error):
            self.locked += 1
        else:
            self.other += 1
        if not self.first:
            self.first = "%s: %s" % (type(error).__name__, str(error)[:200])

    def call(self, function, *args):
        for _ in range(MAX_TRIES):
            try:
                return function(*args)
            except Exception as error:  # noqa: BLE001 -- counted, then retried
                self.count(error)
        raise RuntimeError("gave up after %d failures: %s" % (MAX_TRIES, self.first))


def wait_for_go():
    print("ready", flush=True)
    line = sys.stdin.readline().split()
    if not line or line[0] != "go":
        sys.exit("expected 'go T0', got %r" % line)
    return float(line[1])


def noop_trial(study, failures):
    trial = failures.call(study.ask)
    started = time.monotonic()
    failures.call(trial.suggest_int, "seed", 0, 10**6)
    failures.call(study.tell, trial, 0.0)
    return started


def dispatch_worker(args):
    store = storage(args)
    failures = Failures()
    sampler = optuna.samplers.RandomSampler(seed=os.getpid())
    warm = failures.call(lambda: optuna.create_study(
        study_name="warmup-%d" % os.getpid(), storage=store, sampler=sampler))
    for _ in range(2):
        noop_trial(warm, failures)
    study = failures.call(lambda: optuna.load_study(study_name=args.study, storage=store,
                                                    sampler=sampler))
    failures = Failures()  # warm-up failures are not counted
    t0 = wait_for_go()
    starts, ask_ms = [], []
    for _ in range(args.trials):
        asked = time.monotonic()
        started = noop_trial(study, failures)
        starts.append(started - t0)
        ask_ms.append((started - asked) * 1000)
    print(json.dumps({"trials": len(starts), "end": time.monotonic() - t0,
                      "starts": starts, "ask_ms": ask_ms, "locked": failures.locked,
                      "other_failures": failures.other, "first_failure": failures.first}),
          flush=True)


def ingest_worker(args):
    store = storage(args)
    failures = Failures()
    study = failures.call(lambda: optuna.load_study(
        study_name=args.study, storage=store, sampler=optuna.samplers.RandomSampler()))
    warm = failures.call(study.ask)
    for step in range(10):
        failures.call(warm.report, 0.5, step)
    trial = failures.call(study.ask)
    failures = Failures()
    t0 = wait_for_go()
    lags, points, step = [], 0, 0
    while points < args.points and time.monotonic() - t0 < args.seconds:
        for metric in range(10):
            logged = time.monotonic()
            failures.call(trial.report, 0.001 * step, 10 * step + metric)
            lags.append((time.monotonic() - logged) * 1000)
            points += 1
        step += 1
    print(json.dumps({"points": points, "end": time.monotonic() - t0, "lag_ms": lags,
                      "locked": failures.locked, "other_failures": failures.other,
                      "first_failure": failures.first}), flush=True)


def populate(args):
    # Trials through Optuna (add_trials), then their intermediate values in
    # bulk, straight into Optuna's table with the rows report() writes: report()
    # would take about half an hour for a million values, and only the export
    # is timed here.
    import sqlite3
    store = storage(args)
    study = optuna.create_study(study_name=args.study, storage=store)
    distribution = optuna.distributions.IntDistribution(0, 10**6)
    started = time.monotonic()
    study.add_trials([optuna.trial.create_trial(
        params={"seed": number}, distributions={"seed": distribution}, value=0.0)
        for number in range(args.trials)])
    trial_ids = [t._trial_id for t in study.get_trials(deepcopy=False)]
    del study, store
    db = sqlite3.connect(args.db)
    with db:
        db.executemany(
            "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, "
            "intermediate_value_type) VALUES (?, ?, ?, 'FINITE')",
            ((trial_id, i, 0.001 * (i // 10)) for trial_id in trial_ids
             for i in range(args.values)))
    db.close()
    print(json.dumps({"trials": len(trial_ids), "values": len(trial_ids) * args.values,
                      "populate_s": time.monotonic() - started}), flush=True)


def export(args):
    started = time.monotonic()
    study = optuna.load_study(study_name=args.study, storage=storage(args))
    frame = study.trials_dataframe(
        attrs=("number", "value", "params", "state", "intermediate_values"))
    frame.to_csv(args.out, index=False)
    seconds = time.monotonic() - started
    value_columns = [c for c in frame.columns if "intermediate_values" in str(c)]
    values = int(frame[value_columns].notna().sum().sum()) if value_columns else 0
    print(json.dumps({"seconds": seconds, "trials": len(frame), "values": values,
                      "bytes": os.path.getsize(args.out)}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["dispatch-worker", "ingest-worker", "populate",
                                         "export"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--trials", type=int, default=0)
    parser.add_argument("--points", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--values", type=int, default=0)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    {"dispatch-worker": dispatch_worker, "ingest-worker": ingest_worker,
     "populate": populate, "export": export}[args.mode](args)


if __name__ == "__main__":
    main()
