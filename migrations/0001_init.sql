-- 0001: the initial schema.
--
-- Conventions (docs/results-schema.md describes every table and view):
--   * times are REAL unix seconds;
--   * jobs.state and attempts.outcome hold the integer values of JobState and
--     AttemptOutcome (server/core/types.h); the job_states and
--     attempt_outcomes tables name them for people querying the file;
--   * metric values are REAL; NaN is stored as NULL.
-- Forward only: never edit this file once released; add 0002_....sql.

CREATE TABLE job_states (
  value INTEGER PRIMARY KEY,
  name  TEXT NOT NULL UNIQUE
);
INSERT INTO job_states (value, name) VALUES
  (1, 'pending'), (2, 'running'), (3, 'succeeded'), (4, 'failed'), (5, 'lost'),
  (6, 'cancelled');

CREATE TABLE attempt_outcomes (
  value INTEGER PRIMARY KEY,
  name  TEXT NOT NULL UNIQUE
);
INSERT INTO attempt_outcomes (value, name) VALUES
  (1, 'running'), (2, 'succeeded'), (3, 'failed'), (4, 'lost'), (5, 'preempted'),
  (6, 'cancelled');

CREATE TABLE sweeps (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL,
  priority     INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
  spec_json    TEXT    NOT NULL DEFAULT '',
  created_at   REAL    NOT NULL,
  finished_at  REAL             -- set when the last job becomes terminal
);

CREATE TABLE workers (
  id              INTEGER PRIMARY KEY,
  name            TEXT    NOT NULL,
  hostname        TEXT    NOT NULL DEFAULT '',
  devices_json    TEXT    NOT NULL DEFAULT '[]',
  build_version   TEXT    NOT NULL DEFAULT '',
  trainer_version TEXT    NOT NULL DEFAULT '',
  cuda_version    TEXT    NOT NULL DEFAULT '',
  draining        INTEGER NOT NULL DEFAULT 0,
  slots_busy      INTEGER NOT NULL DEFAULT 0,
  registered_at   REAL    NOT NULL,
  last_seen       REAL    NOT NULL
);

-- One row per grid cell, created at submit time.
CREATE TABLE jobs (
  id                 INTEGER PRIMARY KEY,
  sweep_id           INTEGER NOT NULL REFERENCES sweeps (id),
  cell_index         INTEGER NOT NULL,
  cell_key           TEXT    NOT NULL,
  config_json        TEXT    NOT NULL,
  -- A copy of sweeps.priority (which never changes), so that the claim is
  -- one walk of the jobs_claim index instead of a join and a sort.
  priority           INTEGER NOT NULL,
  state              INTEGER NOT NULL DEFAULT 1 REFERENCES job_states (value),
  failures           INTEGER NOT NULL DEFAULT 0,
  consecutive_lost   INTEGER NOT NULL DEFAULT 0,
  attempt_count      INTEGER NOT NULL DEFAULT 0,
  cancel_requested   INTEGER NOT NULL DEFAULT 0,
  current_attempt_id INTEGER REFERENCES attempts (id),  -- the running attempt, else NULL
  summary_json       TEXT    NOT NULL DEFAULT '',
  last_cause         TEXT    NOT NULL DEFAULT '',
  created_at         REAL    NOT NULL,
  updated_at         REAL    NOT NULL,
  UNIQUE (sweep_id, cell_key),
  UNIQUE (sweep_id, cell_index)
);
-- ClaimJob: the first entry is the next job to run.
CREATE INDEX jobs_claim ON jobs (priority DESC, id) WHERE state = 1;
-- Counts per state, ListJobs with a state filter, sweep_progress.
CREATE INDEX jobs_sweep_state ON jobs (sweep_id, state);

-- One row per claim.
CREATE TABLE attempts (
  id                INTEGER PRIMARY KEY,
  job_id            INTEGER NOT NULL REFERENCES jobs (id),
  number            INTEGER NOT NULL,             -- 1, 2, ... per job
  worker_id         INTEGER NOT NULL REFERENCES workers (id),
  device            TEXT    NOT NULL DEFAULT '',
  fencing_token     TEXT    NOT NULL,
  outcome           INTEGER NOT NULL DEFAULT 1 REFERENCES attempt_outcomes (value),
  cause             TEXT    NOT NULL DEFAULT '',
  started_at        REAL    NOT NULL,
  ended_at          REAL,
  lease_expires     REAL    NOT NULL,
  resumed_from_step INTEGER NOT NULL DEFAULT 0,   -- 0 = started from scratch
  UNIQUE (job_id, number)
);
-- ExpireLeases: running attempts by lease expiry.
CREATE INDEX attempts_lease ON attempts (lease_expires) WHERE outcome = 1;
CREATE INDEX attempts_worker ON attempts (worker_id);

CREATE TABLE checkpoints (
  id         INTEGER PRIMARY KEY,
  job_id     INTEGER NOT NULL REFERENCES jobs (id),
  attempt_id INTEGER NOT NULL REFERENCES attempts (id),
  step       INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  sha256     TEXT    NOT NULL,
  path       TEXT    NOT NULL,   -- relative to the coordinator's data dir
  created_at REAL    NOT NULL
);
CREATE INDEX checkpoints_job_step ON checkpoints (job_id, step);

-- Metric names are stored once; a point carries the integer id (smaller rows,
-- faster inserts: measured ~25% smaller than the name as text).
CREATE TABLE metric_names (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

-- Every point at full resolution, keyed so that a replayed batch is ignored.
CREATE TABLE metrics (
  job_id    INTEGER NOT NULL REFERENCES jobs (id),
  name_id   INTEGER NOT NULL REFERENCES metric_names (id),
  step      INTEGER NOT NULL,
  value     REAL,              -- NULL = NaN
  wall_time REAL    NOT NULL,
  PRIMARY KEY (job_id, name_id, step)
) WITHOUT ROWID;

-- The point at the highest step of each (job, name), kept by the store in the
-- same transaction as the points, so final values need no scan of metrics.
CREATE TABLE metric_last (
  job_id    INTEGER NOT NULL REFERENCES jobs (id),
  name_id   INTEGER NOT NULL REFERENCES metric_names (id),
  step      INTEGER NOT NULL,
  value     REAL,
  wall_time REAL    NOT NULL,
  PRIMARY KEY (job_id, name_id)
) WITHOUT ROWID;

-- ---- Views for people (sqlite3, pandas). Add ORDER BY when you query them.

-- Jobs with their configuration's main axes and state names.
CREATE VIEW job_overview AS
SELECT j.id                                  AS job_id,
       j.sweep_id                            AS sweep_id,
       s.name                                AS sweep,
       j.cell_index                          AS cell_index,
       j.cell_key                            AS cell_key,
       st.name                               AS state,
       json_extract(j.config_json, '$.model')     AS model,
       json_extract(j.config_json, '$.attention') AS attention,
       json_extract(j.config_json, '$.tasks')     AS tasks,
       json_extract(j.config_json, '$.seed')      AS seed,
       j.attempt_count                       AS attempts,
       j.failures                            AS failures,
       j.last_cause                          AS last_cause,
       j.config_json                         AS config_json,
       j.summary_json                        AS summary_json
FROM jobs j
JOIN sweeps s ON s.id = j.sweep_id
JOIN job_states st ON st.value = j.state;

-- The value at the highest step of every metric of every job.
CREATE VIEW job_final_metrics AS
SELECT j.id                                  AS job_id,
       j.sweep_id                            AS sweep_id,
       st.name                               AS state,
       json_extract(j.config_json, '$.model')     AS model,
       json_extract(j.config_json, '$.attention') AS attention,
       json_extract(j.config_json, '$.tasks')     AS tasks,
       json_extract(j.config_json, '$.seed')      AS seed,
       n.name                                AS name,
       l.step                                AS step,
       l.value                               AS value
FROM metric_last l
JOIN jobs j ON j.id = l.job_id
JOIN job_states st ON st.value = j.state
JOIN metric_names n ON n.id = l.name_id;

-- Every point of every job, with the configuration's main axes.
CREATE VIEW job_curves AS
SELECT j.id                                  AS job_id,
       j.sweep_id                            AS sweep_id,
       json_extract(j.config_json, '$.model')     AS model,
       json_extract(j.config_json, '$.attention') AS attention,
       json_extract(j.config_json, '$.tasks')     AS tasks,
       json_extract(j.config_json, '$.seed')      AS seed,
       n.name                                AS name,
       m.step                                AS step,
       m.value                               AS value,
       m.wall_time                           AS wall_time
FROM metrics m
JOIN jobs j ON j.id = m.job_id
JOIN metric_names n ON n.id = m.name_id;

-- Job counts per state for every sweep (sweeps with no jobs show zeros).
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
       s.created_at                                    AS created_at,
       s.finished_at                                   AS finished_at
FROM sweeps s
LEFT JOIN jobs j ON j.sweep_id = s.id
GROUP BY s.id;
