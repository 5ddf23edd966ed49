// The coordinator's policy over a real SQLite store in a temporary folder,
// with a fake clock so that leases expire without sleeping.
#include "server/core/coordinator.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/base/sha256.h"
#include "server/store/sqlite_store.h"
#include "tests/server/test_store.h"

namespace switchyard::server {
namespace {

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("coordinator_test_");
    auto store = OpenTestStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    files_ = std::make_unique<CheckpointFiles>(dir_.string());
    CoordinatorOptions coordinator_options;
    coordinator_options.lease = absl::Seconds(30);
    coordinator_ = std::make_unique<Coordinator>(store_.get(), &clock_, files_.get(),
                                                 coordinator_options);
  }

  void TearDown() override {
    coordinator_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  int64_t Submit(std::vector<int64_t> seeds, int32_t max_attempts = 3, int32_t priority = 0) {
    common::SweepDefinition sweep;
    sweep.name = "test";
    sweep.max_attempts = max_attempts;
    sweep.priority = priority;
    common::SweepAxis axis{"seed", {}};
    for (int64_t s : seeds) axis.values.emplace_back(s);
    sweep.axes.push_back(axis);
    auto result = coordinator_->SubmitSweep(sweep, /*dry_run=*/false);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->sweep_id : 0;
  }

  int64_t Worker(const std::string& name = "w") {
    WorkerRecord worker;
    worker.name = name;
    worker.devices.push_back(DeviceRecord{"cpu", "cpu", 0, 2, ""});
    auto id = coordinator_->RegisterWorker(worker);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  Assignment Claim(int64_t worker) {
    auto claimed = coordinator_->ClaimJob(worker, "cpu");
    EXPECT_TRUE(claimed.ok()) << claimed.status();
    EXPECT_TRUE(claimed.ok() && claimed->has_value());
    return claimed.ok() && claimed->has_value() ? **claimed : Assignment{};
  }

  JobState StateOf(int64_t job_id) {
    auto job = coordinator_->GetJob(job_id);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? job->state : JobState::kPending;
  }

  std::filesystem::path dir_;
  common::FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<CheckpointFiles> files_;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(CoordinatorTest, DryRunCountsAndStoresNothing) {
  common::SweepDefinition sweep;
  sweep.axes.push_back({"seed", {int64_t{1}, int64_t{2}, int64_t{3}}});
  auto result = coordinator_->SubmitSweep(sweep, /*dry_run=*/true);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->job_count, 3);
  EXPECT_EQ(result->sweep_id, 0);
  EXPECT_EQ(result->first_configs.size(), 3u);
  auto sweeps = coordinator_->ListSweeps();
  ASSERT_TRUE(sweeps.ok());
  EXPECT_TRUE(sweeps->empty());
}

// spec_json is the submitted axes, in their order and with their kinds, as
// the JSON library writes them.
TEST_F(CoordinatorTest, StoresTheSubmittedAxesAsJson) {
  common::SweepDefinition sweep;
  sweep.name = "json";
  sweep.axes.push_back({"seed", {int64_t{2}, int64_t{1}}});
  sweep.axes.push_back({"lr", {0.001, 0.5}});
  sweep.axes.push_back({"model", {std::string("mlp"), std::string("lstm")}});
  auto result = coordinator_->SubmitSweep(sweep, /*dry_run=*/false);
  ASSERT_TRUE(result.ok()) << result.status();
  auto record = coordinator_->GetSweep(result->sweep_id);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->spec_json, R"({"seed":[2,1],"lr":[0.001,0.5],"model":["mlp","lstm"]})");
}

TEST_F(CoordinatorTest, InvalidSweepIsRefusedWithTheKey) {
  common::SweepDefinition sweep;
  sweep.axes.push_back({"model", {std::string("lstn")}});
  auto result = coordinator_->SubmitSweep(sweep, false);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            "model: unknown value 'lstn'; known: mlp, lstm, transformer, cisformer");
}

TEST_F(CoordinatorTest, ClaimsHighestPriorityThenOldest) {
  int64_t low = Submit({1, 2}, 3, /*priority=*/0);
  int64_t high = Submit({3}, 3, /*priority=*/5);
  int64_t worker = Worker();
  Assignment first = Claim(worker);
  EXPECT_EQ(first.sweep_id, high);
  Assignment second = Claim(worker);
  EXPECT_EQ(second.sweep_id, low);
  Assignment third = Claim(worker);
  EXPECT_EQ(third.sweep_id, low);
  EXPECT_LT(second.job_id, third.job_id);
  auto none = coordinator_->ClaimJob(worker, "cpu");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(CoordinatorTest, ExpiredLeaseRequeuesAndFencesTheOldAttempt) {
  Submit({1});
  int64_t worker = Worker();
  Assignment first = Claim(worker);
  clock_.Advance(absl::Seconds(31));
  auto expired = coordinator_->ExpireLeasesNow();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 1);
  EXPECT_EQ(StateOf(first.job_id), JobState::kPending);

  Assignment second = Claim(worker);
  EXPECT_EQ(second.job_id, first.job_id);
  EXPECT_EQ(second.attempt_number, 2);
  EXPECT_NE(second.attempt.fencing_token, first.attempt.fencing_token);

  // The first attempt can no longer write anything.
  auto finish = coordinator_->FinishJob(first.attempt, AttemptOutcome::kSucceeded, "", "");
  EXPECT_EQ(finish.status().code(), absl::StatusCode::kFailedPrecondition);
  auto metrics = coordinator_->ReportMetrics({{first.attempt, {{"loss", 1, 0.5, 0}}}});
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->front().code(), absl::StatusCode::kFailedPrecondition);
  auto heartbeat = coordinator_->Heartbeat(worker, {first.attempt}, false, 1);
  ASSERT_TRUE(heartbeat.ok());
  ASSERT_EQ(heartbeat->orders.size(), 1u);
  EXPECT_EQ(heartbeat->orders[0].kind, OrderKind::kAbandon);

  auto job = coordinator_->GetJob(first.job_id);
  ASSERT_TRUE(job.ok());
  ASSERT_EQ(job->attempts.size(), 2u);
  EXPECT_EQ(job->attempts[0].outcome, AttemptOutcome::kLost);
  EXPECT_EQ(job->failures, 0);  // lost is free
}

TEST_F(CoordinatorTest, HeartbeatRenewsTheLease) {
  Submit({1});
  int64_t worker = Worker();
  Assignment a = Claim(worker);
  clock_.Advance(absl::Seconds(20));
  auto heartbeat = coordinator_->Heartbeat(worker, {a.attempt}, false, 1);
  ASSERT_TRUE(heartbeat.ok());
  EXPECT_TRUE(heartbeat->orders.empty());
  clock_.Advance(absl::Seconds(20));  // 40 s after the claim, 20 s after the renewal
  auto expired = coordinator_->ExpireLeasesNow();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 0);
  EXPECT_EQ(StateOf(a.job_id), JobState::kRunning);
}

TEST_F(CoordinatorTest, FailuresUseTheBudgetAndRetryResetsIt) {
  int64_t sweep = Submit({1}, /*max_attempts=*/2);
  int64_t worker = Worker();
  Assignment a = Claim(worker);
  auto state = coordinator_->FinishJob(a.attempt, AttemptOutcome::kFailed, "boom", "");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, JobState::kPending);
  Assignment b = Claim(worker);
  state = coordinator_->FinishJob(b.attempt, AttemptOutcome::kFailed, "boom again", "");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, JobState::kFailed);
  auto job = coordinator_->GetJob(a.job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->failures, 2);
  EXPECT_EQ(job->attempts[1].cause, "boom again");

  auto requeued = coordinator_->Retry(sweep, {});
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(*requeued, 1);
  EXPECT_EQ(StateOf(a.job_id), JobState::kPending);
  Assignment c = Claim(worker);
  EXPECT_EQ(c.attempt_number, 3);

  EXPECT_EQ(coordinator_->Retry(sweep, {JobState::kSucceeded}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CoordinatorTest, PreemptionIsFree) {
  Submit({1}, /*max_attempts=*/1);
  int64_t worker = Worker();
  Assignment a = Claim(worker);
  auto state = coordinator_->FinishJob(a.attempt, AttemptOutcome::kPreempted, "drain", "");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, JobState::kPending);
  Assignment b = Claim(worker);
  state = coordinator_->FinishJob(b.attempt, AttemptOutcome::kSucceeded, "", "{\"summary\":true}");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, JobState::kSucceeded);
}

TEST_F(CoordinatorTest, WorkersCannotReportLost) {
  Submit({1});
  Assignment a = Claim(Worker());
  EXPECT_EQ(coordinator_->FinishJob(a.attempt, AttemptOutcome::kLost, "", "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CoordinatorTest, CancelStopsPendingAtOnceAndOrdersRunning) {
  int64_t sweep = Submit({1, 2, 3});
  int64_t worker = Worker();
  Assignment running = Claim(worker);
  auto result = coordinator_->Cancel(sweep, 0);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->cancelled_pending, 2);
  EXPECT_EQ(result->cancel_ordered, 1);
  auto none = coordinator_->ClaimJob(worker, "cpu");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto heartbeat = coordinator_->Heartbeat(worker, {running.attempt}, false, 1);
  ASSERT_TRUE(heartbeat.ok());
  ASSERT_EQ(heartbeat->orders.size(), 1u);
  EXPECT_EQ(heartbeat->orders[0].kind, OrderKind::kCancel);
  auto state = coordinator_->FinishJob(running.attempt, AttemptOutcome::kCancelled, "", "");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, JobState::kCancelled);
  auto record = coordinator_->GetSweep(sweep);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->counts.cancelled, 3);
  EXPECT_TRUE(record->finished_at.has_value());
}

TEST_F(CoordinatorTest, MetricsAreIdempotentAndNonFiniteValuesRefused) {
  int64_t sweep = Submit({1});
  Assignment a = Claim(Worker());
  MetricBatchWrite batch{a.attempt, {{"loss", 100, 0.5, 1.0}, {"accuracy", 100, 0.25, 1.0}}};
  for (int replay = 0; replay < 3; ++replay) {
    auto stored = coordinator_->ReportMetrics({batch});
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_TRUE(stored->front().ok());
  }
  int64_t rows = 0;
  ASSERT_TRUE(coordinator_
                  ->QueryMetrics({sweep, {}, {}},
                                 [&](const std::vector<JobMetricPoint>& points) {
                                   rows += static_cast<int64_t>(points.size());
                                   return true;
                                 })
                  .ok());
  EXPECT_EQ(rows, 2);

  MetricBatchWrite nan{a.attempt, {{"loss", 200, std::nan(""), 1.0}}};
  EXPECT_EQ(coordinator_->ReportMetrics({nan}).status().code(), absl::StatusCode::kInvalidArgument);
  MetricBatchWrite negative{a.attempt, {{"loss", -1, 1.0, 1.0}}};
  EXPECT_EQ(coordinator_->ReportMetrics({negative}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CoordinatorTest, CheckpointTravelsToTheNextAttempt) {
  Submit({1});
  int64_t worker = Worker();
  Assignment a = Claim(worker);
  std::string bytes(100'000, 'x');
  auto upload = coordinator_->BeginCheckpoint(a.attempt, 400, static_cast<int64_t>(bytes.size()),
                                              common::Sha256Hex(bytes));
  ASSERT_TRUE(upload.ok()) << upload.status();
  ASSERT_TRUE((*upload)->Append(bytes.substr(0, 50'000)).ok());
  ASSERT_TRUE((*upload)->Append(bytes.substr(50'000)).ok());
  auto id = coordinator_->CommitCheckpoint(a.attempt, 400, *std::move(upload));
  ASSERT_TRUE(id.ok()) << id.status();

  ASSERT_TRUE(coordinator_->FinishJob(a.attempt, AttemptOutcome::kPreempted, "drain", "").ok());
  Assignment b = Claim(worker);
  EXPECT_EQ(b.checkpoint_id, *id);
  EXPECT_EQ(b.checkpoint_step, 400);
  auto record = coordinator_->CheckpointFor(b.attempt, b.checkpoint_id);
  ASSERT_TRUE(record.ok()) << record.status();
  std::ifstream in(coordinator_->CheckpointPath(*record), std::ios::binary);
  std::string read((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(read, bytes);
  // The old attempt may not read it any more.
  EXPECT_EQ(coordinator_->CheckpointFor(a.attempt, *id).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(CoordinatorTest, CorruptCheckpointIsDataLossAndLeavesNoFile) {
  Submit({1});
  Assignment a = Claim(Worker());
  auto upload = coordinator_->BeginCheckpoint(a.attempt, 1, 4, common::Sha256Hex("abcd"));
  ASSERT_TRUE(upload.ok());
  ASSERT_TRUE((*upload)->Append("abce").ok());
  auto id = coordinator_->CommitCheckpoint(a.attempt, 1, *std::move(upload));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kDataLoss);
  size_t files = 0;
  for (auto& entry : std::filesystem::recursive_directory_iterator(dir_ / "checkpoints")) {
    files += entry.is_regular_file();
  }
  EXPECT_EQ(files, 0u);
}

TEST_F(CoordinatorTest, WaitForProgressReportsEachFinishedJobOnce) {
  int64_t sweep = Submit({1, 2});
  int64_t worker = Worker();
  Assignment a = Claim(worker);
  ASSERT_TRUE(coordinator_->FinishJob(a.attempt, AttemptOutcome::kSucceeded, "", "").ok());
  std::vector<int64_t> reported;
  auto progress = coordinator_->WaitForProgress(sweep, absl::ZeroDuration(), &reported);
  ASSERT_TRUE(progress.ok());
  ASSERT_EQ(progress->newly_finished.size(), 1u);
  EXPECT_EQ(progress->newly_finished[0].id, a.job_id);
  EXPECT_FALSE(progress->done);
  progress = coordinator_->WaitForProgress(sweep, absl::ZeroDuration(), &reported);
  ASSERT_TRUE(progress.ok());
  EXPECT_TRUE(progress->newly_finished.empty());

  Assignment b = Claim(worker);
  ASSERT_TRUE(coordinator_->FinishJob(b.attempt, AttemptOutcome::kSucceeded, "", "").ok());
  progress = coordinator_->WaitForProgress(sweep, absl::ZeroDuration(), &reported);
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(progress->newly_finished.size(), 1u);
  EXPECT_TRUE(progress->done);
}

}  // namespace
}  // namespace switchyard::server
