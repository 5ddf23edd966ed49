// Which outcome an attempt ended with, and whom it is charged to: a pure
// function of what the job runner saw (docs/worker.md has the whole table).
//
//   the job     a config the trainer refused (exit 2): CONFIG_ERROR, the job
//               fails at once; a training failure or a crash mid-run:
//               FAILED, one unit of the retry budget.
//   the worker  its environment failed (trainer exit 5: CUDA missing or not
//               starting, a device that is gone; a trainer that cannot
//               start: exec failure, exit 126/127 from the loader, a signal
//               before it said a word; a work folder it cannot write):
//               ENVIRONMENT_ERROR, the job goes back to the queue uncharged
//               and the coordinator counts it against the worker.
//   nobody      success, cancel, drain, a stop from outside (SUCCEEDED,
//               CANCELLED, PREEMPTED), a scheduler's stop order obeyed
//               (exit 4 after KIND_STOP: STOPPED), or an abandoned attempt
//               (nothing is reported: UNSPECIFIED).
//
// Thread safety: pure functions.
#ifndef SWITCHYARD_WORKER_AGENT_ATTEMPT_OUTCOME_H_
#define SWITCHYARD_WORKER_AGENT_ATTEMPT_OUTCOME_H_

#include <string>

#include "switchyard/v1/switchyard.pb.h"
#include "worker/agent/trainer_launcher.h"

namespace switchyard::worker {

namespace v1 = ::switchyard::v1;

// The trainer's exit codes (docs/trainer.md).
inline constexpr int kTrainerExitOk = 0;
inline constexpr int kTrainerExitBadConfig = 2;       // the job's config: its fault
inline constexpr int kTrainerExitTrainingFailed = 3;
inline constexpr int kTrainerExitStopped = 4;
inline constexpr int kTrainerExitEnvironment = 5;     // the machine's fault

enum class StopReason { kNone = 0, kDrain = 1, kCancel = 2, kAbandon = 3 };
const char* StopReasonName(StopReason reason);

enum class ChargedTo { kNobody, kJob, kWorker };
const char* ChargedToName(ChargedTo charged);  // "nobody", "job", "worker"

// Where the attempt stopped before its trainer ran, if it did.
enum class EarlyFailure {
  kNone,
  kWorkDir,     // the attempt's folder could not be made: the worker's disk
  kCheckpoint,  // the checkpoint to resume from could not be downloaded
  kLaunch,      // the trainer process could not be started
};

// What the runner saw of the attempt.
struct AttemptFacts {
  StopReason stop = StopReason::kNone;  // the strongest stop requested
  EarlyFailure early = EarlyFailure::kNone;
  std::string early_message;            // why, for an early failure
  bool launched = false;                // the trainer process started
  ExitInfo exit;                        // how it ended, when launched
  // It printed a stdout line or anything on stderr: it got past loading.
  bool trainer_spoke = false;
  // The coordinator's scheduler ordered a stop at the next epoch boundary
  // (Order.KIND_STOP) and the runner passed it on (the stop file).
  bool epoch_stop_ordered = false;
};

struct Classified {
  v1::AttemptOutcome outcome = v1::ATTEMPT_OUTCOME_UNSPECIFIED;  // UNSPECIFIED: report nothing
  ChargedTo charged_to = ChargedTo::kNobody;
  // The first words of the cause ("bad job config (trainer exit code 2)");
  // "" on success and for an abandoned attempt.
  std::string reason;
};

Classified ClassifyAttempt(const AttemptFacts& facts);

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_ATTEMPT_OUTCOME_H_
