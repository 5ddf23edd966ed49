// The early-stopping scheduler's side of the SQLite store: what the store's
// transactions do for a sweep that has a scheduler (common/sweep/scheduler.h).
// The decisions themselves come from the pure policy in
// server/core/early_stopping.h; this file loads its inputs, applies its
// outputs to the jobs, and writes every decision with its inputs, all inside
// the caller's write transaction, so a coordinator killed at any moment
// never loses a decision or takes one twice.
//
// Internal to server/store: callers hold the GroupWriter's transaction.
#ifndef SWITCHYARD_SERVER_STORE_SCHEDULING_H_
#define SWITCHYARD_SERVER_STORE_SCHEDULING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/sweep/scheduler.h"
#include "server/core/types.h"
#include "server/store/sqlite/database.h"

namespace switchyard::server::scheduling {

// jobs.state as a JobState; INTERNAL for a value no version wrote.
absl::StatusOr<JobState> JobStateFromDb(int64_t value);

// Sets the sweep's finished_at when none of its jobs is pending, running or
// paused any more (the one rule of when a sweep ends).
absl::Status MaybeFinishSweep(sqlite::Database& db, int64_t sweep_id, absl::Time now);

// The scheduler of sweep `sweep_id` (kNone for a sweep without one).
absl::StatusOr<common::SchedulerSpec> LoadScheduler(sqlite::Database& db, int64_t sweep_id);

// The best pending job of the plain claim walk, if any: the one an ASHA
// sweep must beat (higher priority, or equal priority and an older sweep).
struct PlainCandidate {
  int64_t priority = 0;
  int64_t sweep_id = 0;
};

// What an ASHA scheduler gives a free slot: a paused job to promote or a
// held trial to start, with the epoch budget of the rung it now trains to
// (0 = the config's epochs: the top rung). The decision is already written.
struct ScheduledClaim {
  int64_t job_id = 0;
  int32_t epoch_budget = 0;
};

// Asks the ASHA sweeps that are not finished, best priority first, for a
// job the worker can run (its `programs`), until `plain` outranks them. A
// sweep that the policy finishes on the way has its paused jobs stopped (and
// the decisions written). std::nullopt: the plain walk's job, if any, runs.
absl::StatusOr<std::optional<ScheduledClaim>> ClaimScheduled(
    sqlite::Database& db, const std::vector<std::string>& programs,
    const std::optional<PlainCandidate>& plain, absl::Time now);

// After an attempt of `job` (as it was while running) ended with `outcome`
// and the job became `after`: under ASHA, a succeeded attempt records the
// rung it trained (its value of the metric) and a pause or done decision;
// then, when no job of the sweep is pending or running, the policy may
// finish the sweep (paused jobs stopped). Nothing for other sweeps.
absl::Status AfterAttemptEnd(sqlite::Database& db, const JobRecord& job, AttemptOutcome outcome,
                             JobState after, absl::Time now);

// Under the median rule, judges the running job at its newest epoch (once
// per epoch): when it is worse than the others' median there, sets
// stop_requested and writes the decision. Returns whether the job has a
// stop order (new or standing). False for sweeps without the median rule.
absl::StatusOr<bool> JudgeMedian(sqlite::Database& db, int64_t job_id, absl::Time now);

// How far the jobs of an ASHA sweep got; {} for other sweeps.
absl::StatusOr<std::vector<RungRecord>> LoadRungs(sqlite::Database& db, int64_t sweep_id,
                                                  const common::SchedulerSpec& scheduler);

// The decisions about a job, oldest first.
absl::StatusOr<std::vector<DecisionRecord>> LoadDecisions(sqlite::Database& db, int64_t job_id);

}  // namespace switchyard::server::scheduling

#endif  // SWITCHYARD_SERVER_STORE_SCHEDULING_H_
