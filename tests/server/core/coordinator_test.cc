// The coordinator's policy over a real SQLite store in a temporary folder,
// with a fake clock so that leases expire without sleeping.
#include "server/core/coordinator.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

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

// ---- views (issue 15)

// A random walk of `n` steps from step 0, seeded.
std::vector<MetricPoint> Walk(const std::string& name, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  std::vector<MetricPoint> points;
  double value = 0;
  for (int step = 0; step < n; ++step) {
    value += noise(rng);
    points.push_back({name, step, value, 1.7e9 + step});
  }
  return points;
}

TEST_F(CoordinatorTest, QuerySeriesDownsamplesEachSeriesAndFollowsTheCursor) {
  const int64_t sweep = Submit({1, 2, 3});
  const int64_t worker = Worker();
  std::vector<Assignment> jobs = {Claim(worker), Claim(worker), Claim(worker)};
  std::map<int64_t, std::vector<MetricPoint>> loss;  // by job
  for (size_t i = 0; i < jobs.size(); ++i) {
    loss[jobs[i].job_id] = Walk("loss", 1000, 100 + i);
    std::vector<MetricPoint> points = loss[jobs[i].job_id];
    for (int step = 0; step < 1000; step += 100) points.push_back({"accuracy", step, 0.1, 1.7e9});
    auto acked = coordinator_->ReportMetrics({{jobs[i].attempt, points}});
    ASSERT_TRUE(acked.ok() && acked->front().ok());
  }

  SeriesQuery query;
  query.sweep_id = sweep;
  query.max_points = 10;
  auto series = coordinator_->QuerySeries(query);
  ASSERT_TRUE(series.ok()) << series.status();
  ASSERT_EQ(series->size(), 6u);  // 3 jobs x {accuracy, loss}, by job then name
  for (size_t i = 0; i < series->size(); ++i) {
    const SeriesResult& s = (*series)[i];
    EXPECT_EQ(s.job_id, std::min(jobs[0].job_id, jobs[1].job_id) + int64_t(i / 2))
        << "by job id";
    EXPECT_EQ(s.name, i % 2 == 0 ? "accuracy" : "loss");
    if (s.name == "accuracy") {
      EXPECT_EQ(s.points, 10);
      EXPECT_EQ(s.buckets.size(), 10u);  // one point each
      EXPECT_EQ(s.last_step, 900);
      continue;
    }
    EXPECT_EQ(s.points, 1000);
    EXPECT_EQ(s.last_step, 999);
    ASSERT_EQ(s.buckets.size(), 10u);
    const std::vector<MetricPoint>& truth = loss.at(s.job_id);
    auto [lo, hi] = std::minmax_element(truth.begin(), truth.end(),
                                        [](const auto& x, const auto& y) {
                                          return x.value < y.value;
                                        });
    double kept_min = INFINITY, kept_max = -INFINITY;
    for (size_t b = 0; b < s.buckets.size(); ++b) {
      EXPECT_EQ(s.buckets[b].count, 100);
      EXPECT_EQ(s.buckets[b].first_step, int64_t(b) * 100);
      EXPECT_EQ(s.buckets[b].last_step, int64_t(b) * 100 + 99);
      EXPECT_EQ(s.buckets[b].last, truth[b * 100 + 99].value);
      kept_min = std::min(kept_min, s.buckets[b].min);
      kept_max = std::max(kept_max, s.buckets[b].max);
    }
    EXPECT_EQ(kept_min, lo->value);
    EXPECT_EQ(kept_max, hi->value);
  }

  // Filters, and the cursor: only what came after, then only what is new.
  query.job_ids = {jobs[1].job_id};
  query.names = {"loss"};
  query.max_points = 0;  // 1000
  query.after_step = 900;
  series = coordinator_->QuerySeries(query);
  ASSERT_TRUE(series.ok()) << series.status();
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0].points, 99);
  EXPECT_EQ((*series)[0].buckets.size(), 99u);
  EXPECT_EQ((*series)[0].buckets.front().first_step, 901);
  EXPECT_EQ((*series)[0].last_step, 999);

  std::vector<MetricPoint> more;
  for (int step = 1000; step < 1005; ++step) more.push_back({"loss", step, 42.0, 1.8e9});
  ASSERT_TRUE(coordinator_->ReportMetrics({{jobs[1].attempt, more}}).ok());
  query.after_step = (*series)[0].last_step;
  series = coordinator_->QuerySeries(query);
  ASSERT_TRUE(series.ok()) << series.status();
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0].points, 5);
  EXPECT_EQ((*series)[0].last_step, 1004);
  EXPECT_EQ((*series)[0].buckets.front().first_step, 1000);

  query.after_step = 1004;  // nothing new: the series is there, empty, the cursor unchanged
  series = coordinator_->QuerySeries(query);
  ASSERT_TRUE(series.ok()) << series.status();
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0].points, 0);
  EXPECT_TRUE((*series)[0].buckets.empty());
  EXPECT_EQ((*series)[0].last_step, 1004);

  // Errors.
  SeriesQuery bad;
  bad.sweep_id = 999;
  EXPECT_EQ(coordinator_->QuerySeries(bad).status().code(), absl::StatusCode::kNotFound);
  bad.sweep_id = sweep;
  bad.max_points = 100'001;
  auto refused = coordinator_->QuerySeries(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("max_points"), std::string::npos);
  bad.max_points = 0;
  bad.job_ids = {9999};
  EXPECT_EQ(coordinator_->QuerySeries(bad).status().code(), absl::StatusCode::kNotFound);

  // An answer too large for one message is refused before anything is read.
  CoordinatorOptions small;
  small.max_view_points_per_call = 100;
  Coordinator limited(store_.get(), &clock_, files_.get(), small);
  SeriesQuery big;
  big.sweep_id = sweep;
  big.max_points = 40;  // 3 x (40 + 10) buckets
  auto exhausted = limited.QuerySeries(big);
  EXPECT_EQ(exhausted.status().code(), absl::StatusCode::kResourceExhausted);
  big.max_points = 20;  // 3 x (20 + 10) = 90
  EXPECT_TRUE(limited.QuerySeries(big).ok());
}

// A sweep of model x seed whose jobs logged `accuracy` and `epoch` at steps
// 10, 20, 30, with known values; one job failed and does not count.
class AggregateTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    CoordinatorTest::SetUp();
    common::SweepDefinition sweep;
    sweep.name = "aggregate";
    sweep.axes.push_back({"model", {std::string("lstm"), std::string("mlp")}});
    sweep.axes.push_back({"seed", {int64_t{1}, int64_t{2}, int64_t{3}}});
    auto submitted = coordinator_->SubmitSweep(sweep, false);
    ASSERT_TRUE(submitted.ok()) << submitted.status();
    sweep_ = submitted->sweep_id;
    auto jobs = coordinator_->ListJobs(sweep_, std::nullopt);
    ASSERT_TRUE(jobs.ok());
    const int64_t worker = Worker();
    for (size_t claimed = 0; claimed < jobs->size(); ++claimed) {
      Assignment a = Claim(worker);
      auto job = coordinator_->GetJob(a.job_id);
      ASSERT_TRUE(job.ok());
      const std::map<std::string, std::string> config = results::ConfigText(job->config_json);
      const bool lstm = config.at("model") == "lstm";
      const int seed = std::stoi(config.at("seed"));
      std::vector<MetricPoint> points;
      for (int epoch = 1; epoch <= 3; ++epoch) {
        // lstm: 0.5 + 0.1 * epoch + 0.01 * seed; mlp: 0.2 * epoch + 0.02 * seed.
        double value = lstm ? 0.5 + 0.1 * epoch + 0.01 * seed : 0.2 * epoch + 0.02 * seed;
        points.push_back({"accuracy", epoch * 10, value, 1.7e9});
        points.push_back({"epoch", epoch * 10, double(epoch), 1.7e9});
        truth_[lstm ? "lstm" : "mlp"][epoch].push_back(value);
      }
      auto acked = coordinator_->ReportMetrics({{a.attempt, points}});
      ASSERT_TRUE(acked.ok() && acked->front().ok());
      const bool fail = !lstm && seed == 3;
      if (fail) {
        for (int epoch = 1; epoch <= 3; ++epoch) truth_["mlp"][epoch].pop_back();
        failed_job_ = a.job_id;
      }
      ASSERT_TRUE(coordinator_
                      ->FinishJob(a.attempt,
                                  fail ? AttemptOutcome::kConfigError : AttemptOutcome::kSucceeded,
                                  fail ? "boom" : "", "")
                      .ok());
      (lstm ? lstm_jobs_ : mlp_jobs_).push_back(a.job_id);
    }
    std::sort(lstm_jobs_.begin(), lstm_jobs_.end());
    std::sort(mlp_jobs_.begin(), mlp_jobs_.end());
    mlp_jobs_.erase(std::find(mlp_jobs_.begin(), mlp_jobs_.end(), failed_job_));
  }

  AggregateQuery Query(const std::string& x) {
    AggregateQuery query;
    query.sweep_id = sweep_;
    query.name = "accuracy";
    query.group_by = {"model"};
    query.x = x;
    return query;
  }

  int64_t sweep_ = 0;
  int64_t failed_job_ = 0;
  std::vector<int64_t> lstm_jobs_, mlp_jobs_;
  std::map<std::string, std::map<int, std::vector<double>>> truth_;  // model -> epoch -> values
};

TEST_F(AggregateTest, FinalGivesOnePointPerGroupOverSucceededJobs) {
  auto result = coordinator_->Aggregate(Query("final"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->group_by, std::vector<std::string>{"model"});
  ASSERT_EQ(result->groups.size(), 2u);
  const results::Curve& lstm = result->groups[0];  // the sweep file's order
  const results::Curve& mlp = result->groups[1];
  EXPECT_EQ(lstm.key, std::vector<std::string>{"lstm"});
  EXPECT_EQ(mlp.key, std::vector<std::string>{"mlp"});
  EXPECT_EQ(lstm.job_ids, lstm_jobs_);
  EXPECT_EQ(mlp.job_ids, mlp_jobs_);  // not the failed one
  ASSERT_EQ(lstm.points.size(), 1u);
  EXPECT_EQ(lstm.points[0].x, 0);
  results::Summary want = results::Summarize(truth_["lstm"][3]);
  EXPECT_EQ(lstm.points[0].y.n, 3);
  EXPECT_EQ(lstm.points[0].y.mean, want.mean);
  EXPECT_EQ(lstm.points[0].y.stddev, want.stddev);
  EXPECT_NEAR(lstm.points[0].y.mean, 0.82, 1e-12);
  EXPECT_NEAR(lstm.points[0].y.stddev, 0.01, 1e-12);
  EXPECT_EQ(mlp.points[0].y.n, 2);
  EXPECT_NEAR(mlp.points[0].y.mean, 0.63, 1e-12);
  EXPECT_NEAR(mlp.points[0].y.min, 0.62, 1e-12);
  EXPECT_NEAR(mlp.points[0].y.max, 0.64, 1e-12);

  // No group_by: one group of every counted job.
  AggregateQuery all = Query("final");
  all.group_by.clear();
  result = coordinator_->Aggregate(all);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->groups.size(), 1u);
  EXPECT_EQ(result->groups[0].points[0].y.n, 5);
  EXPECT_TRUE(result->groups[0].key.empty());
}

TEST_F(AggregateTest, StepAndEpochCurvesAverageTheJobsAtEachX) {
  for (const std::string x : {"step", "", "epoch"}) {
    SCOPED_TRACE(x);
    auto result = coordinator_->Aggregate(Query(x));
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->groups.size(), 2u);
    for (const results::Curve& curve : result->groups) {
      const std::string model = curve.key[0];
      ASSERT_EQ(curve.points.size(), 3u) << model;
      for (int epoch = 1; epoch <= 3; ++epoch) {
        const results::CurvePoint& p = curve.points[epoch - 1];
        EXPECT_EQ(p.x, x == "epoch" ? epoch : epoch * 10);
        results::Summary want = results::Summarize(truth_[model][epoch]);
        EXPECT_EQ(p.y.n, want.n);
        EXPECT_EQ(p.y.mean, want.mean);
        EXPECT_EQ(p.y.stddev, want.stddev);
        EXPECT_EQ(p.y.min, want.min);
        EXPECT_EQ(p.y.max, want.max);
      }
    }
  }
  // Thinned: at most max(max_points, 2) points, the extremes among them.
  AggregateQuery thin = Query("step");
  thin.max_points = 2;
  auto result = coordinator_->Aggregate(thin);
  ASSERT_TRUE(result.ok()) << result.status();
  for (const results::Curve& curve : result->groups) {
    ASSERT_EQ(curve.points.size(), 2u);
    EXPECT_EQ(curve.points[0].x, 10);  // the lowest mean (accuracy grows)
    EXPECT_EQ(curve.points[1].x, 30);  // the highest
  }
  // A job's single value: sd NaN.
  AggregateQuery by_seed = Query("final");
  by_seed.group_by = {"model", "seed"};
  result = coordinator_->Aggregate(by_seed);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->groups.size(), 5u);
  EXPECT_EQ(result->groups[0].key, (std::vector<std::string>{"lstm", "1"}));
  EXPECT_EQ(result->groups[0].points[0].y.n, 1);
  EXPECT_TRUE(std::isnan(result->groups[0].points[0].y.stddev));
}

TEST_F(AggregateTest, ErrorsNameTheField) {
  AggregateQuery query = Query("final");
  query.sweep_id = 999;
  EXPECT_EQ(coordinator_->Aggregate(query).status().code(), absl::StatusCode::kNotFound);
  query = Query("hours");
  auto refused = coordinator_->Aggregate(query);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "x: must be step, epoch or final, got 'hours'");
  query = Query("step");
  query.group_by = {"modle"};
  refused = coordinator_->Aggregate(query);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message().rfind("group_by[0]: unknown key 'modle'", 0), 0u);
  // A metric nobody logged: no group.
  query = Query("step");
  query.name = "nothing";
  auto none = coordinator_->Aggregate(query);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->groups.empty());
  // Too many points to read, or to answer.
  CoordinatorOptions small;
  small.max_aggregate_points_read = 10;
  Coordinator limited(store_.get(), &clock_, files_.get(), small);
  EXPECT_EQ(limited.Aggregate(Query("step")).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(limited.Aggregate(Query("final")).ok());  // reads no points
  small.max_aggregate_points_read = 14;  // more than each half (9, 6), less than both
  small.aggregate_split_jobs = 2;
  Coordinator split_limited(store_.get(), &clock_, files_.get(), small);
  EXPECT_EQ(split_limited.Aggregate(Query("step")).status().code(),
            absl::StatusCode::kResourceExhausted);
}

// Read in two halves at once (a big sweep's jobs), the answer is the one
// read in one pass, to the last bit.
TEST_F(AggregateTest, TwoHalvesReadAtOnceGiveTheSameAnswer) {
  CoordinatorOptions split;
  split.aggregate_split_jobs = 2;
  Coordinator halves(store_.get(), &clock_, files_.get(), split);
  for (const std::string& x : {"step", "epoch"}) {
    auto one = coordinator_->Aggregate(Query(x));
    auto two = halves.Aggregate(Query(x));
    ASSERT_TRUE(one.ok() && two.ok()) << x;
    ASSERT_EQ(one->groups.size(), two->groups.size());
    for (size_t g = 0; g < one->groups.size(); ++g) {
      EXPECT_EQ(one->groups[g].key, two->groups[g].key);
      EXPECT_EQ(one->groups[g].job_ids, two->groups[g].job_ids);
      ASSERT_EQ(one->groups[g].points.size(), two->groups[g].points.size());
      EXPECT_EQ(one->groups[g].points.size(), 3u);
      for (size_t i = 0; i < one->groups[g].points.size(); ++i) {
        const results::CurvePoint& a = one->groups[g].points[i];
        const results::CurvePoint& b = two->groups[g].points[i];
        EXPECT_EQ(a.x, b.x);
        EXPECT_EQ(a.y.n, b.y.n);
        EXPECT_EQ(a.y.mean, b.y.mean);
        EXPECT_EQ(a.y.min, b.y.min);
        EXPECT_EQ(a.y.max, b.y.max);
      }
    }
  }
}

TEST_F(CoordinatorTest, TailMetricsDeliversAcknowledgedPointsOfItsSweep) {
  const int64_t sweep = Submit({1, 2});
  const int64_t other = Submit({3});
  const int64_t worker = Worker();
  Assignment a = Claim(worker);
  Assignment b = Claim(worker);
  Assignment c = Claim(worker);  // of the other sweep
  ASSERT_EQ(c.sweep_id, other);

  auto everything = coordinator_->SubscribeMetrics({sweep, {}});
  ASSERT_TRUE(everything.ok()) << everything.status();
  auto loss_only = coordinator_->SubscribeMetrics({sweep, {"loss"}});
  ASSERT_TRUE(loss_only.ok()) << loss_only.status();

  ASSERT_TRUE(coordinator_
                  ->ReportMetrics({{a.attempt,
                                    {{"loss", 1, 0.5, 1.7e9}, {"accuracy", 1, 0.25, 1.7e9}}}})
                  .ok());
  ASSERT_TRUE(coordinator_->ReportMetrics({{c.attempt, {{"loss", 1, 9.0, 1.7e9}}}}).ok());
  ASSERT_TRUE(coordinator_->ReportMetrics({{b.attempt, {{"loss", 2, 0.4, 1.7e9}}}}).ok());
  // A refused batch (stale pair) is not published.
  AttemptRef stale = a.attempt;
  stale.fencing_token = "not-it";
  ASSERT_TRUE(coordinator_->ReportMetrics({{stale, {{"loss", 3, 77.0, 1.7e9}}}}).ok());

  std::vector<JobMetricPoint> got, more;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (got.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    if ((*everything)->Next(absl::Milliseconds(100), &more) == MetricSubscription::Wait::kPoints) {
      got.insert(got.end(), more.begin(), more.end());
    }
  }
  ASSERT_EQ(got.size(), 3u) << "within 1 s";
  EXPECT_EQ(got[0].job_id, a.job_id);
  EXPECT_EQ(got[0].point.name, "loss");
  EXPECT_EQ(got[1].point.name, "accuracy");
  EXPECT_EQ(got[2].job_id, b.job_id);
  EXPECT_EQ(got[2].point.value, 0.4);
  ASSERT_EQ((*loss_only)->Next(absl::Seconds(1), &got), MetricSubscription::Wait::kPoints);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].point.name, "loss");
  EXPECT_EQ(got[1].point.name, "loss");
  EXPECT_EQ((*everything)->Next(absl::Milliseconds(50), &got), MetricSubscription::Wait::kTimeout);

  // The owner cache survives the attempt's end and a fresh attempt is looked up.
  ASSERT_TRUE(coordinator_->FinishJob(a.attempt, AttemptOutcome::kPreempted, "", "").ok());
  Assignment again = Claim(worker);
  ASSERT_EQ(again.job_id, a.job_id);
  ASSERT_TRUE(coordinator_->ReportMetrics({{again.attempt, {{"loss", 5, 0.1, 1.7e9}}}}).ok());
  ASSERT_EQ((*loss_only)->Next(absl::Seconds(1), &got), MetricSubscription::Wait::kPoints);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].job_id, a.job_id);

  EXPECT_EQ(coordinator_->SubscribeMetrics({999, {}}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(coordinator_->SubscribeMetrics({-1, {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(coordinator_->SubscribeMetrics({0, {""}}).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Stop ends every tail and refuses new ones.
  coordinator_->Stop();
  EXPECT_EQ((*everything)->Next(absl::Seconds(5), &got), MetricSubscription::Wait::kClosed);
  EXPECT_EQ(coordinator_->SubscribeMetrics({0, {}}).status().code(), absl::StatusCode::kCancelled);
}

TEST_F(CoordinatorTest, ASlowTailDoesNotSlowIngestion) {
  CoordinatorOptions small;
  small.tail_queue_points = 5;
  Coordinator coordinator(store_.get(), &clock_, files_.get(), small);
  const int64_t sweep = Submit({1});
  WorkerRecord w;
  w.name = "w";
  w.devices.push_back(DeviceRecord{"cpu", "cpu", 0, 1, ""});
  auto worker = coordinator.RegisterWorker(w);
  ASSERT_TRUE(worker.ok());
  auto claimed = coordinator.ClaimJob(*worker, "cpu");
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  auto never_reads = coordinator.SubscribeMetrics({sweep, {}});
  ASSERT_TRUE(never_reads.ok());
  auto start = std::chrono::steady_clock::now();
  for (int batch = 0; batch < 200; ++batch) {
    std::vector<MetricPoint> points;
    for (int i = 0; i < 10; ++i) points.push_back({"loss", batch * 10 + i, 1.0, 1.7e9});
    auto acked = coordinator.ReportMetrics({{(*claimed)->attempt, points}});
    ASSERT_TRUE(acked.ok() && acked->front().ok());
  }
  // Every batch was stored and acknowledged at the store's pace.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ((*never_reads)->dropped(), 2000 - 5);
  std::vector<JobMetricPoint> got;
  ASSERT_EQ((*never_reads)->Next(absl::Seconds(1), &got), MetricSubscription::Wait::kPoints);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got.back().point.step, 1999);  // the newest survive
  SeriesQuery query;
  query.sweep_id = sweep;
  auto series = coordinator.QuerySeries(query);
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0].points, 2000);
}

TEST_F(CoordinatorTest, ListCheckpointsNewestFirst) {
  Submit({1});
  Assignment a = Claim(Worker());
  for (int64_t step : {100, 300, 200}) {
    const std::string bytes = "state at " + std::to_string(step);
    auto upload = coordinator_->BeginCheckpoint(a.attempt, step, int64_t(bytes.size()),
                                                common::Sha256Hex(bytes));
    ASSERT_TRUE(upload.ok()) << upload.status();
    ASSERT_TRUE((*upload)->Append(bytes).ok());
    ASSERT_TRUE(coordinator_->CommitCheckpoint(a.attempt, step, *std::move(upload)).ok());
  }
  auto list = coordinator_->ListCheckpoints(a.job_id);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);  // checkpoints_kept = 2: the newest two
  EXPECT_EQ((*list)[0].step, 300);
  EXPECT_EQ((*list)[1].step, 200);
  EXPECT_EQ((*list)[0].sha256, common::Sha256Hex("state at 300"));
  EXPECT_EQ((*list)[0].attempt_id, a.attempt.attempt_id);
  EXPECT_EQ(coordinator_->ListCheckpoints(12345).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace switchyard::server
