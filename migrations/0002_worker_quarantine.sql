-- 0002: charging a failure to the party at fault (issue 18).
--
-- Two attempt outcomes: config_error (the trainer refused the job's config;
-- the job fails at once) and environment_error (the worker's machine failed;
-- the job goes back to the queue uncharged). A worker whose attempts end with
-- environment errors kQuarantineAfter times in a row (server/core/
-- state_machine.h) is quarantined: it gets no claims until it registers
-- again or an operator lifts the quarantine.
-- Forward only: never edit this file once released; add 0003_....sql.

INSERT INTO attempt_outcomes (value, name) VALUES (7, 'config_error'), (8, 'environment_error');

-- Environment errors in a row; reset by an attempt whose trainer ran.
ALTER TABLE workers ADD COLUMN environment_failures INTEGER NOT NULL DEFAULT 0;
-- When the worker was quarantined; NULL = it may claim.
ALTER TABLE workers ADD COLUMN quarantined_at REAL;
-- The cause of its last environment error, for `switchyard workers`.
ALTER TABLE workers ADD COLUMN quarantine_cause TEXT NOT NULL DEFAULT '';
