#include "server/core/state_machine.h"

#include "absl/strings/str_cat.h"

namespace switchyard::server {

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kPending: return "pending";
    case JobState::kRunning: return "running";
    case JobState::kSucceeded: return "succeeded";
    case JobState::kFailed: return "failed";
    case JobState::kLost: return "lost";
    case JobState::kCancelled: return "cancelled";
  }
  return "unknown";
}

const char* AttemptOutcomeName(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::kRunning: return "running";
    case AttemptOutcome::kSucceeded: return "succeeded";
    case AttemptOutcome::kFailed: return "failed";
    case AttemptOutcome::kLost: return "lost";
    case AttemptOutcome::kPreempted: return "preempted";
    case AttemptOutcome::kCancelled: return "cancelled";
    case AttemptOutcome::kConfigError: return "config_error";
    case AttemptOutcome::kEnvironmentError: return "environment_error";
  }
  return "unknown";
}

bool JobStateFromName(std::string_view name, JobState* out) {
  for (JobState s : {JobState::kPending, JobState::kRunning, JobState::kSucceeded,
                     JobState::kFailed, JobState::kLost, JobState::kCancelled}) {
    if (name == JobStateName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

bool IsTerminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kLost || state == JobState::kCancelled;
}

int64_t& StateCounts::For(JobState state) {
  switch (state) {
    case JobState::kPending: return pending;
    case JobState::kRunning: return running;
    case JobState::kSucceeded: return succeeded;
    case JobState::kFailed: return failed;
    case JobState::kLost: return lost;
    case JobState::kCancelled: return cancelled;
  }
  return pending;
}

absl::Status CheckTransition(int64_t job_id, JobState from, JobState to) {
  bool allowed = false;
  switch (from) {
    case JobState::kPending:
      allowed = to == JobState::kRunning || to == JobState::kCancelled;
      break;
    case JobState::kRunning:
      allowed = to == JobState::kSucceeded || to == JobState::kPending ||
                to == JobState::kFailed || to == JobState::kLost || to == JobState::kCancelled;
      break;
    case JobState::kFailed:
    case JobState::kLost:
      allowed = to == JobState::kPending;  // retry
      break;
    case JobState::kSucceeded:
    case JobState::kCancelled:
      allowed = false;
      break;
  }
  if (allowed) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("job ", job_id, ": ", JobStateName(from),
                                                    " -> ", JobStateName(to),
                                                    " is not allowed"));
}

bool WorkerMayReport(AttemptOutcome outcome) {
  return outcome == AttemptOutcome::kSucceeded || outcome == AttemptOutcome::kFailed ||
         outcome == AttemptOutcome::kPreempted || outcome == AttemptOutcome::kCancelled ||
         outcome == AttemptOutcome::kConfigError ||
         outcome == AttemptOutcome::kEnvironmentError;
}

WorkerHealth WorkerAfterAttempt(const WorkerHealth& before, AttemptOutcome outcome,
                                const std::string& cause) {
  WorkerHealth after = before;
  switch (outcome) {
    case AttemptOutcome::kEnvironmentError:
      after.environment_failures += 1;
      after.last_cause = cause;
      if (after.environment_failures >= kQuarantineAfter) after.quarantined = true;
      break;
    case AttemptOutcome::kSucceeded:
    case AttemptOutcome::kFailed:
    case AttemptOutcome::kConfigError:
      // The trainer ran and judged the job: the machine works.
      after.environment_failures = 0;
      break;
    case AttemptOutcome::kRunning:
    case AttemptOutcome::kLost:
    case AttemptOutcome::kPreempted:
    case AttemptOutcome::kCancelled:
      break;  // says nothing about the machine
  }
  return after;
}

absl::StatusOr<JobAfterAttempt> ApplyAttemptEnd(const JobRecord& job, int32_t max_attempts,
                                                AttemptOutcome outcome) {
  if (job.state != JobState::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job.id, ": is ", JobStateName(job.state), ", not running"));
  }
  JobAfterAttempt after{job.state, job.failures, job.consecutive_lost};
  switch (outcome) {
    case AttemptOutcome::kRunning:
      return absl::InvalidArgumentError("an attempt cannot end as running");
    case AttemptOutcome::kSucceeded:
      after.state = JobState::kSucceeded;
      after.consecutive_lost = 0;
      break;
    case AttemptOutcome::kFailed:
      after.failures += 1;
      after.consecutive_lost = 0;
      after.state = after.failures >= max_attempts ? JobState::kFailed : JobState::kPending;
      break;
    case AttemptOutcome::kConfigError:
      // Another attempt would be refused the same way: the budget is moot.
      after.failures += 1;
      after.consecutive_lost = 0;
      after.state = JobState::kFailed;
      break;
    case AttemptOutcome::kEnvironmentError:
      // Like a lost attempt: free, but a job that breaks every worker it
      // lands on still ends (as lost) after kMaxConsecutiveLost in a row.
      after.consecutive_lost += 1;
      after.state =
          after.consecutive_lost >= kMaxConsecutiveLost ? JobState::kLost : JobState::kPending;
      break;
    case AttemptOutcome::kLost:
      after.consecutive_lost += 1;
      after.state =
          after.consecutive_lost >= kMaxConsecutiveLost ? JobState::kLost : JobState::kPending;
      break;
    case AttemptOutcome::kPreempted:
      after.consecutive_lost = 0;
      after.state = JobState::kPending;
      break;
    case AttemptOutcome::kCancelled:
      after.state = JobState::kCancelled;
      break;
  }
  if (job.cancel_requested && after.state == JobState::kPending) after.state = JobState::kCancelled;
  if (absl::Status s = CheckTransition(job.id, job.state, after.state); !s.ok()) return s;
  return after;
}

}  // namespace switchyard::server
