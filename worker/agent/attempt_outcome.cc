#include "worker/agent/attempt_outcome.h"

#include "absl/strings/str_cat.h"

namespace switchyard::worker {

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNone: return "none";
    case StopReason::kDrain: return "drain";
    case StopReason::kCancel: return "cancel";
    case StopReason::kAbandon: return "abandon";
  }
  return "unknown";
}

const char* ChargedToName(ChargedTo charged) {
  switch (charged) {
    case ChargedTo::kNobody: return "nobody";
    case ChargedTo::kJob: return "job";
    case ChargedTo::kWorker: return "worker";
  }
  return "unknown";
}

Classified ClassifyAttempt(const AttemptFacts& facts) {
  const StopReason stop = facts.stop;
  auto nobody = [](v1::AttemptOutcome outcome, std::string reason) {
    return Classified{outcome, ChargedTo::kNobody, std::move(reason)};
  };
  auto job = [](v1::AttemptOutcome outcome, std::string reason) {
    return Classified{outcome, ChargedTo::kJob, std::move(reason)};
  };
  auto worker = [](std::string reason) {
    return Classified{v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR, ChargedTo::kWorker,
                      std::move(reason)};
  };
  // The coordinator took the attempt back: nothing more is said about it.
  if (stop == StopReason::kAbandon) return nobody(v1::ATTEMPT_OUTCOME_UNSPECIFIED, "");

  if (facts.early != EarlyFailure::kNone) {
    if (stop == StopReason::kCancel) {
      return nobody(v1::ATTEMPT_OUTCOME_CANCELLED, facts.early_message);
    }
    switch (facts.early) {
      case EarlyFailure::kCheckpoint:
        return job(v1::ATTEMPT_OUTCOME_FAILED, facts.early_message);
      case EarlyFailure::kWorkDir:
      case EarlyFailure::kLaunch:
      case EarlyFailure::kNone:
        return worker(facts.early_message);
    }
  }
  if (!facts.launched) {
    return stop == StopReason::kCancel
               ? nobody(v1::ATTEMPT_OUTCOME_CANCELLED, "cancelled before the trainer started")
               : nobody(v1::ATTEMPT_OUTCOME_PREEMPTED,
                        "worker draining; handed back before the trainer started");
  }

  const ExitInfo& exit = facts.exit;
  const bool exited = !exit.signaled;
  if (exited && exit.code == kTrainerExitOk) return nobody(v1::ATTEMPT_OUTCOME_SUCCEEDED, "");
  if (stop == StopReason::kCancel) {
    return nobody(v1::ATTEMPT_OUTCOME_CANCELLED,
                  absl::StrCat("cancelled; the trainer stopped with ", exit.Describe()));
  }
  // The trainer's own verdicts come before a drain's: they say what the
  // trainer found, whatever else was going on.
  if (exited && exit.code == kTrainerExitBadConfig) {
    return job(v1::ATTEMPT_OUTCOME_CONFIG_ERROR, "bad job config (trainer exit code 2)");
  }
  if (exited && exit.code == kTrainerExitTrainingFailed) {
    return job(v1::ATTEMPT_OUTCOME_FAILED, "training failed (trainer exit code 3)");
  }
  if (exited && exit.code == kTrainerExitEnvironment) {
    return worker("this worker's environment failed (trainer exit code 5)");
  }
  if (stop == StopReason::kDrain) {
    return nobody(v1::ATTEMPT_OUTCOME_PREEMPTED,
                  absl::StrCat("worker draining; the trainer stopped with ", exit.Describe()));
  }
  if (exited && exit.code == kTrainerExitStopped && facts.epoch_stop_ordered) {
    return nobody(v1::ATTEMPT_OUTCOME_STOPPED,
                  "stopped by the sweep's scheduler at an epoch boundary (trainer exit code 4)");
  }
  if (exited && exit.code == kTrainerExitStopped) {
    return nobody(v1::ATTEMPT_OUTCOME_PREEMPTED,
                  "the trainer was stopped by a SIGTERM from outside the daemon");
  }
  // 126 and 127: what the dynamic loader or a wrapper script exits with when
  // the program cannot run (a missing shared library, no permission).
  if (exited && (exit.code == 126 || exit.code == 127)) {
    return worker(absl::StrCat("the trainer could not start (exit code ", exit.code, ")"));
  }
  if (exit.signaled) {
    if (!facts.trainer_spoke) {
      return worker(absl::StrCat("the trainer died as it started, before a word: ",
                                 exit.Describe()));
    }
    return job(v1::ATTEMPT_OUTCOME_FAILED, absl::StrCat("the trainer crashed: ", exit.Describe()));
  }
  return job(v1::ATTEMPT_OUTCOME_FAILED,
             absl::StrCat("the trainer exited with code ", exit.code,
                          ", which the trainer protocol does not define (0 done, 2 bad config, "
                          "3 failed, 4 stopped, 5 environment); counted as a failure"));
}

}  // namespace switchyard::worker
