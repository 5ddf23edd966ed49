// The job state machine: which state changes are legal and what an attempt's
// end does to its job. Pure functions; the store applies them inside its
// transactions so the policy lives in one place.
//
//   pending --claim--> running --succeeded--> succeeded
//                        |--failed (budget left)--> pending
//                        |--failed (budget used)--> failed
//                        |--config error--> failed (at once: the job's fault)
//                        |--lost / preempted / environment error--> pending
//                        |      (free; lost or environment errors too often in a row -> lost)
//                        |--cancelled--> cancelled
//                        |--succeeded with an epoch budget (an ASHA rung)--> paused
//                        |--stopped (the scheduler's stop order)--> stopped
//   pending --cancel--> cancelled
//   paused --promote--> running; --the sweep ends--> stopped; --cancel--> cancelled
//   failed | lost | stopped --retry--> pending (retry budget reset)
#ifndef SWITCHYARD_SERVER_CORE_STATE_MACHINE_H_
#define SWITCHYARD_SERVER_CORE_STATE_MACHINE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/types.h"

namespace switchyard::server {

// A job lost this many times in a row (no attempt in between that ran to an
// end) is marked lost instead of being requeued forever.
inline constexpr int kMaxConsecutiveLost = 10;

// OK when `from -> to` is an edge of the diagram above, else
// FAILED_PRECONDITION "job <id>: running -> pending is not allowed".
absl::Status CheckTransition(int64_t job_id, JobState from, JobState to);

// The job after one of its running attempts ended with `outcome`.
struct JobAfterAttempt {
  JobState state;
  int32_t failures;
  int32_t consecutive_lost;
};
// `job` must be running; outcome must not be kRunning (INVALID_ARGUMENT).
// cancel_requested turns a failed or lost attempt of a cancelled job into
// cancelled as well, so a cancel always sticks. stop_requested (the
// scheduler's stop order) likewise turns any end short of success, other
// than a config error, into stopped. A succeeded attempt with an epoch
// budget (job.epoch_budget > 0) trained one ASHA rung: the job is paused.
absl::StatusOr<JobAfterAttempt> ApplyAttemptEnd(const JobRecord& job, int32_t max_attempts,
                                                AttemptOutcome outcome);

// Outcomes a worker may report in FinishJob (lost is the reaper's alone).
bool WorkerMayReport(AttemptOutcome outcome);

// A worker whose attempts ended with an environment error this many times in
// a row is quarantined: it gets no more claims until it registers again or
// an operator lets it (Store::UnquarantineWorker).
inline constexpr int kQuarantineAfter = 3;

// What the coordinator tracks of a worker's health.
struct WorkerHealth {
  int32_t environment_failures = 0;  // in a row
  bool quarantined = false;
  std::string last_cause;            // of the last environment error
};
// The worker's health after one of its attempts ended with `outcome`: an
// environment error counts (and quarantines at kQuarantineAfter); an attempt
// whose trainer ran and judged the job (succeeded, failed, config error)
// resets the count; the rest (lost, preempted, cancelled) change nothing.
// Quarantine is only lifted by re-registration or an operator.
WorkerHealth WorkerAfterAttempt(const WorkerHealth& before, AttemptOutcome outcome,
                                const std::string& cause);

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_CORE_STATE_MACHINE_H_
