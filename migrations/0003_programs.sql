-- 0003: programs of the user's own (issue 20, docs/trainer-protocol.md).
--
-- A job names the program that trains it (the job config's `program` key,
-- copied here so that the claim can pick by it); a worker lists the programs
-- it was started with (--program NAME=PATH, plus the built-in trainer). A
-- worker claims only jobs whose program it has.
-- Forward only: never edit this file once released; add 0004_....sql.

ALTER TABLE jobs ADD COLUMN program TEXT NOT NULL DEFAULT 'switchyard-train';
-- A JSON array of names; a worker registered before 0003 has the built-in one.
ALTER TABLE workers ADD COLUMN programs_json TEXT NOT NULL DEFAULT '["switchyard-train"]';

-- The claim walks one program's pending jobs at a time, best first.
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (program, priority DESC, id) WHERE state = 1;
