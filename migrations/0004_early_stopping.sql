-- 0004: early stopping (issue 19, docs/early-stopping.md).
--
-- A sweep may carry a scheduler (ASHA or median stopping). Jobs gain two
-- states (paused: finished an ASHA rung, keeps its checkpoint; stopped: the
-- scheduler ended it), an attempt outcome (stopped: the program obeyed a
-- stop order), an epoch budget per attempt, and every decision the
-- scheduler takes is kept with its inputs, written in the transaction that
-- acts on it.
-- Forward only: never edit this file once released; add 0005_....sql.

INSERT INTO job_states (value, name) VALUES (7, 'paused'), (8, 'stopped');
INSERT INTO attempt_outcomes (value, name) VALUES (9, 'stopped');

-- common/sweep/scheduler.h, SchedulerToJson; '' = none.
ALTER TABLE sweeps ADD COLUMN scheduler_json TEXT NOT NULL DEFAULT '';
-- The epoch the job's current or next attempt trains to; 0 = the config's epochs.
ALTER TABLE jobs ADD COLUMN epoch_budget INTEGER NOT NULL DEFAULT 0;
-- 1: a pending ASHA trial that only the scheduler may start (at rung 0).
ALTER TABLE jobs ADD COLUMN scheduler_held INTEGER NOT NULL DEFAULT 0;
-- 1: the scheduler ordered the running job to stop (median); the next
-- heartbeat carries the order.
ALTER TABLE jobs ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0;
-- The last epoch the median rule judged the job at (so a heartbeat judges
-- each epoch once).
ALTER TABLE jobs ADD COLUMN judged_epoch INTEGER NOT NULL DEFAULT 0;

-- The claim's plain walk skips held trials: the scheduler starts those.
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (program, priority DESC, id) WHERE state = 1 AND scheduler_held = 0;
-- The sweeps whose scheduler the claim asks, while they are not finished.
CREATE INDEX sweeps_scheduled ON sweeps (priority DESC, id)
  WHERE scheduler_json != '' AND finished_at IS NULL;

-- ASHA: the metric each job had when it finished each rung.
CREATE TABLE rung_results (
  job_id      INTEGER NOT NULL REFERENCES jobs (id),
  rung        INTEGER NOT NULL,        -- 0-based
  epoch       INTEGER NOT NULL,        -- the rung's epoch budget
  value       REAL,                    -- NULL = the metric was missing or NaN
  recorded_at REAL    NOT NULL,
  PRIMARY KEY (job_id, rung)
) WITHOUT ROWID;

-- Every scheduler decision, with what it was made from.
CREATE TABLE schedule_decisions (
  id          INTEGER PRIMARY KEY,
  sweep_id    INTEGER NOT NULL REFERENCES sweeps (id),
  job_id      INTEGER NOT NULL REFERENCES jobs (id),
  kind        TEXT    NOT NULL,        -- start, pause, promote, stop, done
  rung        INTEGER NOT NULL,        -- asha: the rung decided at; -1 for median
  epoch       INTEGER NOT NULL,
  value       REAL,                    -- the job's metric there (NULL: none)
  reason      TEXT    NOT NULL,        -- what `why` shows
  inputs_json TEXT    NOT NULL,        -- the values the policy was given
  decided_at  REAL    NOT NULL
);
CREATE INDEX schedule_decisions_job ON schedule_decisions (job_id, id);
CREATE INDEX schedule_decisions_sweep ON schedule_decisions (sweep_id, id);

DROP VIEW sweep_progress;
CREATE VIEW sweep_progress AS
SELECT s.id                                            AS sweep_id,
       s.name                                          AS name,
       s.priority                                      AS priority,
       COUNT(j.id)                                     AS total,
       COALESCE(SUM(j.state = 1), 0)                   AS pending,
       COALESCE(SUM(j.state = 2), 0)                   AS running,
       COALESCE(SUM(j.state = 3), 0)                   AS succeeded,
       COALESCE(SUM(j.state = 4), 0)                   AS failed,
       COALESCE(SUM(j.state = 5), 0)                   AS lost,
       COALESCE(SUM(j.state = 6), 0)                   AS cancelled,
       COALESCE(SUM(j.state = 7), 0)                   AS paused,
       COALESCE(SUM(j.state = 8), 0)                   AS stopped,
       s.created_at                                    AS created_at,
       s.finished_at                                   AS finished_at
FROM sweeps s
LEFT JOIN jobs j ON j.sweep_id = s.id
GROUP BY s.id;
