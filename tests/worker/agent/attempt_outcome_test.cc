// The outcome table of docs/worker.md, row by row: what the runner saw ->
// outcome, whom it is charged to, and the first words of the cause.
#include "worker/agent/attempt_outcome.h"

#include <csignal>
#include <string>

#include "gtest/gtest.h"

namespace switchyard::worker {
namespace {

ExitInfo Exited(int code) { return ExitInfo{false, code, 0}; }
ExitInfo Killed(int signal) { return ExitInfo{true, 0, signal}; }

AttemptFacts Ran(ExitInfo exit, StopReason stop = StopReason::kNone, bool spoke = true) {
  AttemptFacts facts;
  facts.launched = true;
  facts.exit = exit;
  facts.stop = stop;
  facts.trainer_spoke = spoke;
  return facts;
}

// The scheduler's stop order was passed on (the stop file).
AttemptFacts StopOrdered(AttemptFacts facts) {
  facts.epoch_stop_ordered = true;
  return facts;
}

AttemptFacts Early(EarlyFailure early, StopReason stop = StopReason::kNone) {
  AttemptFacts facts;
  facts.early = early;
  facts.early_message = "early words";
  facts.stop = stop;
  return facts;
}

AttemptFacts NotStarted(StopReason stop) {
  AttemptFacts facts;
  facts.stop = stop;
  return facts;
}

struct Row {
  const char* name;
  AttemptFacts facts;
  v1::AttemptOutcome outcome;
  ChargedTo charged_to;
  std::string reason;
};

TEST(ClassifyAttemptTest, TheOutcomeTable) {
  using enum ChargedTo;
  const Row rows[] = {
      // The trainer ran to its end.
      {"done", Ran(Exited(0)), v1::ATTEMPT_OUTCOME_SUCCEEDED, kNobody, ""},
      {"bad config", Ran(Exited(2)), v1::ATTEMPT_OUTCOME_CONFIG_ERROR, kJob,
       "bad job config (trainer exit code 2)"},
      {"training failed", Ran(Exited(3)), v1::ATTEMPT_OUTCOME_FAILED, kJob,
       "training failed (trainer exit code 3)"},
      {"environment", Ran(Exited(5)), v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR, kWorker,
       "this worker's environment failed (trainer exit code 5)"},
      {"stopped from outside", Ran(Exited(4)), v1::ATTEMPT_OUTCOME_PREEMPTED, kNobody,
       "the trainer was stopped by a SIGTERM from outside the daemon"},
      {"stopped by the scheduler", StopOrdered(Ran(Exited(4))), v1::ATTEMPT_OUTCOME_STOPPED,
       kNobody, "stopped by the sweep's scheduler at an epoch boundary (trainer exit code 4)"},
      {"done before the stop order took", StopOrdered(Ran(Exited(0))),
       v1::ATTEMPT_OUTCOME_SUCCEEDED, kNobody, ""},
      {"a drain beats the stop order", StopOrdered(Ran(Exited(4), StopReason::kDrain)),
       v1::ATTEMPT_OUTCOME_PREEMPTED, kNobody,
       "worker draining; the trainer stopped with exit code 4"},
      {"a failure after the stop order", StopOrdered(Ran(Exited(3))), v1::ATTEMPT_OUTCOME_FAILED,
       kJob, "training failed (trainer exit code 3)"},
      {"loader failure", Ran(Exited(127)), v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR, kWorker,
       "the trainer could not start (exit code 127)"},
      {"not executable", Ran(Exited(126)), v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR, kWorker,
       "the trainer could not start (exit code 126)"},
      {"unknown code", Ran(Exited(1)), v1::ATTEMPT_OUTCOME_FAILED, kJob,
       "the trainer exited with code 1, which the trainer protocol does not define (0 done, 2 bad "
       "config, 3 failed, 4 stopped, 5 environment); counted as a failure"},
      {"crash mid-run", Ran(Killed(SIGSEGV)), v1::ATTEMPT_OUTCOME_FAILED, kJob,
       "the trainer crashed: killed by signal 11 (Segmentation fault)"},
      {"crash before a word", Ran(Killed(SIGSEGV), StopReason::kNone, /*spoke=*/false),
       v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR, kWorker,
       "the trainer died as it started, before a word: killed by signal 11 (Segmentation "
       "fault)"},
      // Stops the daemon asked for.
      {"cancelled", Ran(Exited(4), StopReason::kCancel), v1::ATTEMPT_OUTCOME_CANCELLED, kNobody,
       "cancelled; the trainer stopped with exit code 4"},
      {"cancel beats a bad config", Ran(Exited(2), StopReason::kCancel),
       v1::ATTEMPT_OUTCOME_CANCELLED, kNobody, "cancelled; the trainer stopped with exit code 2"},
      {"drained", Ran(Exited(4), StopReason::kDrain), v1::ATTEMPT_OUTCOME_PREEMPTED, kNobody,
       "worker draining; the trainer stopped with exit code 4"},
      {"drained, killed", Ran(Killed(SIGKILL), StopReason::kDrain), v1::ATTEMPT_OUTCOME_PREEMPTED,
       kNobody, "worker draining; the trainer stopped with killed by signal 9 (Killed)"},
      {"bad config while draining", Ran(Exited(2), StopReason::kDrain),
       v1::ATTEMPT_OUTCOME_CONFIG_ERROR, kJob, "bad job config (trainer exit code 2)"},
      {"environment while draining", Ran(Exited(5), StopReason::kDrain),
       v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR, kWorker,
       "this worker's environment failed (trainer exit code 5)"},
      {"abandoned", Ran(Killed(SIGKILL), StopReason::kAbandon), v1::ATTEMPT_OUTCOME_UNSPECIFIED,
       kNobody, ""},
      {"drained before start", NotStarted(StopReason::kDrain), v1::ATTEMPT_OUTCOME_PREEMPTED,
       kNobody, "worker draining; handed back before the trainer started"},
      {"cancelled before start", NotStarted(StopReason::kCancel), v1::ATTEMPT_OUTCOME_CANCELLED,
       kNobody, "cancelled before the trainer started"},
      {"abandoned before start", NotStarted(StopReason::kAbandon),
       v1::ATTEMPT_OUTCOME_UNSPECIFIED, kNobody, ""},
      // Before the trainer ran.
      {"work dir", Early(EarlyFailure::kWorkDir), v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR, kWorker,
       "early words"},
      {"launch", Early(EarlyFailure::kLaunch), v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR, kWorker,
       "early words"},
      {"checkpoint", Early(EarlyFailure::kCheckpoint), v1::ATTEMPT_OUTCOME_FAILED, kJob,
       "early words"},
      {"launch failed, cancelled", Early(EarlyFailure::kLaunch, StopReason::kCancel),
       v1::ATTEMPT_OUTCOME_CANCELLED, kNobody, "early words"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    Classified got = ClassifyAttempt(row.facts);
    EXPECT_EQ(v1::AttemptOutcome_Name(got.outcome), v1::AttemptOutcome_Name(row.outcome));
    EXPECT_STREQ(ChargedToName(got.charged_to), ChargedToName(row.charged_to));
    EXPECT_EQ(got.reason, row.reason);
  }
}

}  // namespace
}  // namespace switchyard::worker
