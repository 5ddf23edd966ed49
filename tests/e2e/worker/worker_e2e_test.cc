// End-to-end tests of switchyard-worker: a real coordinator, real worker
// daemons and real switchyard-train processes on loopback ports, driven
// through the SweepService API. Each test owns its folder, ports and
// processes (tests/e2e/harness).
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness/harness.h"

namespace switchyard::e2e {
namespace {

// Metrics every epoch line carries as numbers (others may be null).
const std::vector<std::string> kAlwaysThere = {"epoch", "loss", "eval_loss", "accuracy",
                                               "accuracy_last"};

std::string AttemptsText(const v1::Job& job) {
  std::string text;
  for (const v1::Attempt& a : job.attempts()) {
    absl::StrAppend(&text, "\n  attempt ", a.number(), " on ", a.worker_name(), ": ",
                    v1::AttemptOutcome_Name(a.outcome()), " resumed_from_step ",
                    a.resumed_from_step(), " cause ", a.cause().substr(0, 200));
  }
  return text;
}

class WorkerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("switchyard-worker-e2e");
    coordinator_ = std::make_unique<Coordinator>(*dir_ / "data", dir_->path());
    absl::Status started = coordinator_->Start();
    ASSERT_TRUE(started.ok()) << started;
    Connect();
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- coordinator log (tail)\n" << Tail(coordinator_->log_path(), 30);
      for (const auto& worker : workers_) {
        std::cerr << "--- worker " << worker->name() << " log (tail)\n"
                  << Tail(worker->log_path(), 60);
      }
      dir_->keep();
      std::cerr << "--- work folder kept: " << dir_->path() << "\n";
    }
    workers_.clear();  // SIGKILL; their trainers follow (PR_SET_PDEATHSIG)
    coordinator_.reset();
  }

  void Connect() {
    auto client = Client::Connect(*coordinator_);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  Worker* AddWorker(WorkerOptions options) {
    workers_.push_back(std::make_unique<Worker>(*coordinator_, dir_->path(), std::move(options)));
    absl::Status started = workers_.back()->Start();
    EXPECT_TRUE(started.ok()) << started;
    return workers_.back().get();
  }

  int64_t Submit(const v1::SweepSpec& spec) {
    absl::StatusOr<int64_t> id = client_->Submit(spec);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  std::vector<v1::Job> JobsWithAttempts(int64_t sweep_id) {
    std::vector<v1::Job> jobs;
    absl::StatusOr<std::vector<v1::Job>> listed = client_->ListJobs(sweep_id);
    EXPECT_TRUE(listed.ok()) << listed.status();
    if (!listed.ok()) return jobs;
    for (const v1::Job& job : *listed) {
      absl::StatusOr<v1::Job> full = client_->GetJob(job.id());
      EXPECT_TRUE(full.ok()) << full.status();
      if (full.ok()) jobs.push_back(*full);
    }
    return jobs;
  }

  // Every job has every epoch's metrics: for each name that is always a
  // number, exactly the steps spe, 2 spe, ..., epochs * spe (unique, no
  // gaps); other names have unique steps among those.
  void ExpectCompleteMetrics(int64_t sweep_id, int epochs, int steps_per_epoch) {
    absl::StatusOr<std::vector<v1::JobMetricPoint>> points = client_->QueryMetrics(sweep_id);
    ASSERT_TRUE(points.ok()) << points.status();
    auto steps = StepsByJobAndName(*points);
    std::vector<int64_t> expected;
    for (int e = 1; e <= epochs; ++e) expected.push_back(int64_t{e} * steps_per_epoch);
    absl::StatusOr<std::vector<v1::Job>> jobs = client_->ListJobs(sweep_id);
    ASSERT_TRUE(jobs.ok());
    for (const v1::Job& job : *jobs) {
      for (const std::string& name : kAlwaysThere) {
        const std::vector<int64_t>& got = steps[std::make_pair(job.id(), name)];
        EXPECT_EQ(got, expected) << "job " << job.id() << " metric " << name;
      }
    }
    for (const auto& [key, list] : steps) {
      std::set<int64_t> unique(list.begin(), list.end());
      EXPECT_EQ(unique.size(), list.size()) << "job " << key.first << " metric " << key.second;
      for (int64_t step : list) {
        EXPECT_TRUE(std::count(expected.begin(), expected.end(), step))
            << "job " << key.first << " metric " << key.second << " step " << step;
      }
    }
    // "epoch" counts 1, 2, ...: one line per epoch, none twice.
    for (const v1::JobMetricPoint& p : *points) {
      if (p.point().name() == "epoch") {
        EXPECT_EQ(p.point().value() * steps_per_epoch, static_cast<double>(p.point().step()));
      }
    }
  }

  // No trainer of this worker is left (each has the work folder in its args).
  void ExpectNoTrainersOf(const Worker& worker) {
    EXPECT_TRUE(WaitUntil([&] { return ProcessesWithArg(worker.work_dir() + "/").empty(); },
                          absl::Seconds(10)))
        << "trainer processes of " << worker.name() << " are still alive";
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<Client> client_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

// One job long enough to be interrupted after its first checkpoint (about
// 30 ms a step for the small transformer on one thread): 4 epochs of 100
// steps, checkpoints every 25 steps and at each epoch's end.
constexpr int kLongEpochs = 4;
constexpr int kLongStepsPerEpoch = 100;
v1::SweepSpec LongJob(const std::string& name) {
  return TinySweep(name, {Axis("model", {std::string("transformer")}),
                          Axis("epochs", {int64_t{kLongEpochs}}),
                          Axis("steps_per_epoch", {int64_t{kLongStepsPerEpoch}}),
                          Axis("checkpoint_every", {int64_t{25}})});
}

TEST_F(WorkerE2eTest, TwoWorkersRunASweepOfEightJobs) {
  AddWorker({.name = "alpha", .slots = 2});
  AddWorker({.name = "beta", .slots = 2});
  int64_t id = Submit(TinySweep(
      "eight", {Axis("model", {std::string("mlp"), std::string("lstm")}),
                Axis("seed", {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}}),
                Axis("epochs", {int64_t{3}})}));
  absl::StatusOr<v1::Sweep> sweep = client_->WaitForSweep(id, absl::Minutes(5));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->counts().succeeded(), 8);
  std::set<std::string> workers_used;
  for (const v1::Job& job : JobsWithAttempts(id)) {
    EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << "job " << job.id() << AttemptsText(job);
    EXPECT_TRUE(absl::StrContains(job.summary_json(), "\"summary\":true")) << job.summary_json();
    for (const v1::Attempt& a : job.attempts()) workers_used.insert(a.worker_name());
  }
  EXPECT_EQ(workers_used, (std::set<std::string>{"alpha", "beta"}));
  ExpectCompleteMetrics(id, 3, 4);
}

TEST_F(WorkerE2eTest, AJobOfAWorkerKilledWithSignal9FinishesElsewhereFromItsCheckpoint) {
  Worker* alpha = AddWorker({.name = "alpha", .slots = 1});
  int64_t id = Submit(LongJob("kill9"));
  ASSERT_TRUE(alpha->WaitForLog("checkpoint at step", absl::Minutes(3)));
  alpha->Signal(SIGKILL);
  ASSERT_TRUE(alpha->Wait(absl::Seconds(10)).has_value());
  ExpectNoTrainersOf(*alpha);

  Worker* beta = AddWorker({.name = "beta", .slots = 1});
  absl::StatusOr<v1::Sweep> sweep = client_->WaitForSweep(id, absl::Minutes(4));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  std::vector<v1::Job> jobs = JobsWithAttempts(id);
  ASSERT_EQ(jobs.size(), 1u);
  const v1::Job& job = jobs[0];
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << AttemptsText(job);
  ASSERT_GE(job.attempts_size(), 2) << AttemptsText(job);
  EXPECT_EQ(job.attempts(0).worker_name(), "alpha");
  EXPECT_EQ(job.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_LOST) << AttemptsText(job);
  const v1::Attempt& last = job.attempts(job.attempts_size() - 1);
  EXPECT_EQ(last.worker_name(), "beta");
  EXPECT_EQ(last.outcome(), v1::ATTEMPT_OUTCOME_SUCCEEDED);
  EXPECT_GT(last.resumed_from_step(), 0) << "attempt 2 starts after step 0" << AttemptsText(job);
  EXPECT_EQ(job.failures(), 0);
  EXPECT_TRUE(beta->WaitForLog(absl::StrCat("resumed from step ", last.resumed_from_step()),
                               absl::Seconds(1)));
  ExpectCompleteMetrics(id, kLongEpochs, kLongStepsPerEpoch);
}

TEST_F(WorkerE2eTest, WorkersRideOutACoordinatorKilledWithSignal9AndRestarted) {
  Worker* alpha = AddWorker({.name = "alpha", .slots = 1});
  Worker* beta = AddWorker({.name = "beta", .slots = 1});
  int64_t id = Submit(TinySweep(
      "coordinator-crash",
      {Axis("model", {std::string("transformer")}),
       Axis("seed", {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}}), Axis("epochs", {int64_t{4}}),
       Axis("steps_per_epoch", {int64_t{50}}), Axis("checkpoint_every", {int64_t{25}})}));
  std::vector<v1::JobMetricPoint> before;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto points = client_->QueryMetrics(id);
        if (points.ok()) before = *points;
        return before.size() >= 10;
      },
      absl::Minutes(3)));
  // Points stored up to here were acknowledged (or will be): they must stay.
  before = *client_->QueryMetrics(id);
  coordinator_->Kill9();
  absl::SleepFor(absl::Seconds(2));
  absl::Status restarted = coordinator_->Start();
  ASSERT_TRUE(restarted.ok()) << restarted;
  Connect();

  absl::StatusOr<v1::Sweep> sweep = client_->WaitForSweep(id, absl::Minutes(5));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->counts().succeeded(), 4);
  absl::StatusOr<std::vector<v1::JobMetricPoint>> after = client_->QueryMetrics(id);
  ASSERT_TRUE(after.ok());
  std::map<std::tuple<int64_t, std::string, int64_t>, double> stored;
  for (const v1::JobMetricPoint& p : *after) {
    auto key = std::make_tuple(p.job_id(), p.point().name(), p.point().step());
    EXPECT_TRUE(stored.emplace(key, p.point().value()).second)
        << "doubled: job " << p.job_id() << " " << p.point().name() << " " << p.point().step();
  }
  for (const v1::JobMetricPoint& p : before) {
    auto found = stored.find(std::make_tuple(p.job_id(), p.point().name(), p.point().step()));
    ASSERT_NE(found, stored.end()) << "lost: job " << p.job_id() << " " << p.point().name();
    EXPECT_EQ(found->second, p.point().value());
  }
  ExpectCompleteMetrics(id, 4, 50);
  for (const Worker* w : {alpha, beta}) {
    EXPECT_GE(CountText(w->log_path(), "lost connection to the coordinator") +
                  CountText(w->log_path(), "metric stream lost"),
              1)
        << w->name() << " did not notice the outage";
  }
  EXPECT_GE(CountText(alpha->log_path(), "reconnected to the coordinator") +
                CountText(beta->log_path(), "reconnected to the coordinator"),
            1);
}

TEST_F(WorkerE2eTest, SigtermDrainsAWorkerAndItsJobIsPreemptedNotFailed) {
  Worker* alpha = AddWorker({.name = "alpha", .slots = 1, .drain_timeout = 20});
  int64_t id = Submit(LongJob("drain"));
  ASSERT_TRUE(alpha->WaitForLog("checkpoint at step", absl::Minutes(3)));
  absl::Time start = absl::Now();
  alpha->Signal(SIGTERM);
  std::optional<int> status = alpha->Wait(absl::Seconds(25));
  ASSERT_TRUE(status.has_value()) << "the worker did not exit within --drain-timeout";
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_TRUE(alpha->WaitForLog("finished: preempted", absl::Seconds(1)));
  ExpectNoTrainersOf(*alpha);

  AddWorker({.name = "beta", .slots = 1});
  absl::StatusOr<v1::Sweep> sweep = client_->WaitForSweep(id, absl::Minutes(4));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  std::vector<v1::Job> jobs = JobsWithAttempts(id);
  ASSERT_EQ(jobs.size(), 1u);
  const v1::Job& job = jobs[0];
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << AttemptsText(job);
  ASSERT_GE(job.attempts_size(), 2);
  EXPECT_EQ(job.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_PREEMPTED) << AttemptsText(job);
  EXPECT_TRUE(absl::StrContains(job.attempts(0).cause(), "draining")) << job.attempts(0).cause();
  EXPECT_EQ(job.failures(), 0) << "the retry budget is untouched";
  const v1::Attempt& last = job.attempts(job.attempts_size() - 1);
  EXPECT_EQ(last.worker_name(), "beta");
  EXPECT_GT(last.resumed_from_step(), 0) << AttemptsText(job);
  ExpectCompleteMetrics(id, kLongEpochs, kLongStepsPerEpoch);
}

TEST_F(WorkerE2eTest, AJobWhoseTrainingFailsFailsAloneWithItsMessage) {
  Worker* alpha = AddWorker({.name = "alpha", .slots = 1});
  v1::SweepSpec spec =
      TinySweep("nan", {Axis("debug_nan_at_step", {int64_t{2}, int64_t{-1}})});
  spec.set_max_attempts(1);
  int64_t id = Submit(spec);
  absl::StatusOr<v1::Sweep> sweep = client_->WaitForSweep(id, absl::Minutes(3));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  std::vector<v1::Job> jobs = JobsWithAttempts(id);
  ASSERT_EQ(jobs.size(), 2u);
  std::sort(jobs.begin(), jobs.end(),
            [](const v1::Job& a, const v1::Job& b) { return a.cell_index() < b.cell_index(); });
  const v1::Job& failed = jobs[0];
  EXPECT_EQ(failed.state(), v1::JOB_STATE_FAILED) << AttemptsText(failed);
  EXPECT_TRUE(absl::StrContains(failed.last_cause(), "loss is nan")) << failed.last_cause();
  ASSERT_EQ(failed.attempts_size(), 1);
  EXPECT_TRUE(absl::StartsWith(failed.attempts(0).cause(),
                               "training failed (trainer exit code 3): loss is nan"))
      << failed.attempts(0).cause();
  EXPECT_TRUE(absl::StrContains(failed.attempts(0).cause(), "stderr"));
  EXPECT_EQ(jobs[1].state(), v1::JOB_STATE_SUCCEEDED) << AttemptsText(jobs[1]);
  EXPECT_TRUE(alpha->Running()) << "one job's failure must not take the daemon down";
  ExpectNoTrainersOf(*alpha);
}

TEST_F(WorkerE2eTest, CancellingARunningSweepStopsItsJobsWithinSeconds) {
  Worker* alpha = AddWorker({.name = "alpha", .slots = 2});
  int64_t id = Submit(TinySweep(
      "cancel", {Axis("seed", {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}}),
                 Axis("epochs", {int64_t{1000}}), Axis("steps_per_epoch", {int64_t{5}})}));
  // Both slots are training (each has finished an epoch).
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto jobs = client_->ListJobs(id);
        if (!jobs.ok()) return false;
        int running = 0;
        for (const v1::Job& job : *jobs) running += job.state() == v1::JOB_STATE_RUNNING;
        return running == 2 && CountText(alpha->log_path(), ": step ") >= 2;
      },
      absl::Minutes(3)));
  const int claims_before = CountText(alpha->log_path(), "claimed job");
  absl::Time start = absl::Now();
  absl::StatusOr<v1::CancelResponse> cancelled = client_->CancelSweep(id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->cancelled_pending(), 2);
  EXPECT_EQ(cancelled->cancel_ordered(), 2);
  absl::StatusOr<v1::Sweep> sweep = client_->WaitForSweep(id, absl::Seconds(30));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  EXPECT_EQ(sweep->counts().cancelled(), 4);
  ExpectNoTrainersOf(*alpha);
  int with_attempts = 0;
  for (const v1::Job& job : JobsWithAttempts(id)) {
    EXPECT_EQ(job.state(), v1::JOB_STATE_CANCELLED);
    if (job.attempts_size() == 0) continue;
    ++with_attempts;
    EXPECT_EQ(job.attempts(job.attempts_size() - 1).outcome(), v1::ATTEMPT_OUTCOME_CANCELLED)
        << AttemptsText(job);
  }
  EXPECT_EQ(with_attempts, 2);
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(CountText(alpha->log_path(), "claimed job"), claims_before) << "nothing new starts";
  EXPECT_TRUE(alpha->Running());
}

}  // namespace
}  // namespace switchyard::e2e
