#include "server/core/state_machine.h"

#include <gtest/gtest.h>

namespace switchyard::server {
namespace {

JobRecord Running(int32_t failures = 0, int32_t lost = 0, bool cancel_requested = false) {
  JobRecord job;
  job.id = 42;
  job.state = JobState::kRunning;
  job.failures = failures;
  job.consecutive_lost = lost;
  job.cancel_requested = cancel_requested;
  return job;
}

TEST(StateMachineTest, IllegalTransitionNamesTheJobAndStates) {
  absl::Status status = CheckTransition(42, JobState::kSucceeded, JobState::kPending);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "job 42: succeeded -> pending is not allowed");
  EXPECT_FALSE(CheckTransition(1, JobState::kPending, JobState::kSucceeded).ok());
  EXPECT_FALSE(CheckTransition(1, JobState::kCancelled, JobState::kPending).ok());
  EXPECT_TRUE(CheckTransition(1, JobState::kFailed, JobState::kPending).ok());
  EXPECT_TRUE(CheckTransition(1, JobState::kLost, JobState::kPending).ok());
  EXPECT_TRUE(CheckTransition(1, JobState::kPending, JobState::kCancelled).ok());
}

TEST(StateMachineTest, FailuresUseTheRetryBudget) {
  auto first = ApplyAttemptEnd(Running(0), 3, AttemptOutcome::kFailed);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->state, JobState::kPending);
  EXPECT_EQ(first->failures, 1);
  auto last = ApplyAttemptEnd(Running(2), 3, AttemptOutcome::kFailed);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->state, JobState::kFailed);
  EXPECT_EQ(last->failures, 3);
}

TEST(StateMachineTest, LostAndPreemptedAreFree) {
  for (AttemptOutcome outcome : {AttemptOutcome::kLost, AttemptOutcome::kPreempted}) {
    auto after = ApplyAttemptEnd(Running(2), 3, outcome);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->state, JobState::kPending);
    EXPECT_EQ(after->failures, 2);
  }
}

TEST(StateMachineTest, LostTooOftenInARowBecomesLost) {
  auto after = ApplyAttemptEnd(Running(0, kMaxConsecutiveLost - 1), 3, AttemptOutcome::kLost);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, JobState::kLost);
  // A preemption in between resets the count.
  auto preempted = ApplyAttemptEnd(Running(0, 5), 3, AttemptOutcome::kPreempted);
  ASSERT_TRUE(preempted.ok());
  EXPECT_EQ(preempted->consecutive_lost, 0);
}

TEST(StateMachineTest, AConfigErrorFailsTheJobAtOnce) {
  // The trainer refused the config: another attempt would be refused too.
  auto after = ApplyAttemptEnd(Running(0), 5, AttemptOutcome::kConfigError);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, JobState::kFailed);
  EXPECT_EQ(after->failures, 1);
}

TEST(StateMachineTest, AnEnvironmentErrorIsFreeForTheJob) {
  auto after = ApplyAttemptEnd(Running(2), 3, AttemptOutcome::kEnvironmentError);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, JobState::kPending);
  EXPECT_EQ(after->failures, 2) << "the retry budget is not charged";
  EXPECT_EQ(after->consecutive_lost, 1);
  // A job that breaks every worker it lands on still ends, as lost.
  auto last = ApplyAttemptEnd(Running(0, kMaxConsecutiveLost - 1), 3,
                              AttemptOutcome::kEnvironmentError);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->state, JobState::kLost);
}

// How one attempt's end changes its worker's health.
TEST(StateMachineTest, WorkerHealthTable) {
  struct Case {
    int32_t failures_before;
    bool quarantined_before;
    AttemptOutcome outcome;
    int32_t failures_after;
    bool quarantined_after;
  };
  const Case cases[] = {
      {0, false, AttemptOutcome::kEnvironmentError, 1, false},
      {kQuarantineAfter - 2, false, AttemptOutcome::kEnvironmentError, kQuarantineAfter - 1,
       false},
      {kQuarantineAfter - 1, false, AttemptOutcome::kEnvironmentError, kQuarantineAfter, true},
      {2, false, AttemptOutcome::kSucceeded, 0, false},
      {2, false, AttemptOutcome::kFailed, 0, false},
      {2, false, AttemptOutcome::kConfigError, 0, false},
      {2, false, AttemptOutcome::kLost, 2, false},
      {2, false, AttemptOutcome::kPreempted, 2, false},
      {2, false, AttemptOutcome::kCancelled, 2, false},
      // Only a restart or an operator lifts a quarantine.
      {kQuarantineAfter, true, AttemptOutcome::kSucceeded, 0, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << AttemptOutcomeName(c.outcome) << " after "
                                    << c.failures_before);
    WorkerHealth before{c.failures_before, c.quarantined_before, "old"};
    WorkerHealth after = WorkerAfterAttempt(before, c.outcome, "new");
    EXPECT_EQ(after.environment_failures, c.failures_after);
    EXPECT_EQ(after.quarantined, c.quarantined_after);
    EXPECT_EQ(after.last_cause,
              c.outcome == AttemptOutcome::kEnvironmentError ? "new" : "old");
  }
}

TEST(StateMachineTest, CancelRequestSticksThroughAFailure) {
  auto after = ApplyAttemptEnd(Running(0, 0, /*cancel_requested=*/true), 3, AttemptOutcome::kFailed);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, JobState::kCancelled);
  auto lost = ApplyAttemptEnd(Running(0, 0, true), 3, AttemptOutcome::kLost);
  ASSERT_TRUE(lost.ok());
  EXPECT_EQ(lost->state, JobState::kCancelled);
}

TEST(StateMachineTest, OnlyRunningJobsEndAttempts) {
  JobRecord pending = Running();
  pending.state = JobState::kPending;
  EXPECT_EQ(ApplyAttemptEnd(pending, 3, AttemptOutcome::kSucceeded).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ApplyAttemptEnd(Running(), 3, AttemptOutcome::kRunning).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(StateMachineTest, WorkersMayNotReportLost) {
  EXPECT_FALSE(WorkerMayReport(AttemptOutcome::kLost));
  EXPECT_FALSE(WorkerMayReport(AttemptOutcome::kRunning));
  EXPECT_TRUE(WorkerMayReport(AttemptOutcome::kPreempted));
  EXPECT_TRUE(WorkerMayReport(AttemptOutcome::kConfigError));
  EXPECT_TRUE(WorkerMayReport(AttemptOutcome::kEnvironmentError));
}

}  // namespace
}  // namespace switchyard::server
