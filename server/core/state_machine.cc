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
    case JobState::kPaused: return "paused";
    case JobState::kStopped: return "stopped";
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
    case AttemptOutcome::kStopped: return "stopped";
  }
  return "unknown";
}

bool JobStateFromName(std::string_view name, JobState* out) {
  for (JobState s : kAllJobStates) {
    if (name == JobStateName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

bool IsTerminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kLost || state == JobState::kCancelled ||
         state == JobState::kStopped;
}

int64_t& StateCounts::For(JobState state) {
  switch (state) {
    case JobState::kPending: return pending;
    case JobState::kRunning: return running;
    case JobState::kSucceeded: return succeeded;
    case JobState::kFailed: return failed;
    case JobState::kLost: return lost;
    case JobState::kCancelled: return cancelled;
    case JobState::kPaused: return paused;
    case JobState::kStopped: return stopped;
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
                to == JobState::kFailed || to == JobState::kLost ||
                to == JobState::kCancelled || to == JobState::kPaused ||
                to == JobState::kStopped;
      break;
    case JobState::kPaused:
      // promoted; stopped when its sweep ends; cancelled
      allowed = to == JobState::kRunning || to == JobState::kStopped ||
                to == JobState::kCancelled;
      break;
    case JobState::kFailed:
    case JobState::kLost:
    case JobState::kStopped:
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
         outcome == AttemptOutcome::kEnvironmentError || outcome == AttemptOutcome::kStopped;
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
    case AttemptOutcome::kStopped:
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
      // An attempt with an epoch budget trained a rung, not the whole job.
      after.state = job.epoch_budget > 0 ? JobState::kPaused : JobState::kSucceeded;
      after.consecutive_lost = 0;
      break;
    case AttemptOutcome::kStopped:
      after.state = JobState::kStopped;
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
  // The scheduler decided to stop it: whatever ended the attempt short of
  // its end (a drain, a lost lease, a crash) does not bring it back.
  if (job.stop_requested && !job.cancel_requested &&
      (after.state == JobState::kPending || after.state == JobState::kLost ||
       after.state == JobState::kFailed) &&
      outcome != AttemptOutcome::kConfigError) {
    after.state = JobState::kStopped;
  }
  if (absl::Status s = CheckTransition(job.id, job.state, after.state); !s.ok()) return s;
  return after;
}

}  // namespace switchyard::server
