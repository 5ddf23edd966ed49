#include "worker/agent/job_runner.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/worker/agent/fakes.h"

namespace switchyard::worker {
namespace {

using testing::FakeCoordinator;
using testing::FakeLauncher;
using testing::FakeTrainer;

std::string EpochLine(int epoch, int step, double loss) {
  return absl::StrCat(R"({"epoch":)", epoch, R"(,"step":)", step, R"(,"loss":)", loss,
                      R"(,"eval_loss":)", loss * 2, R"(,"accuracy":0.5,"samples_per_sec":100})");
}

bool HasArg(const TrainerSpec& spec, const std::string& arg) {
  return std::find(spec.args.begin(), spec.args.end(), arg) != spec.args.end();
}

std::string ArgAfter(const TrainerSpec& spec, const std::string& flag) {
  for (size_t i = 0; i + 1 < spec.args.size(); ++i) {
    if (spec.args[i] == flag) return spec.args[i + 1];
  }
  return "";
}

std::string Env(const TrainerSpec& spec, const std::string& name) {
  for (const auto& [key, value] : spec.env) {
    if (key == name) return value;
  }
  return "<unset>";
}

// Abandons the job when a test leaves early (a failed ASSERT), so that the
// runner's future does not wait forever for a scripted trainer.
struct StopOnExit {
  explicit StopOnExit(JobRunner* runner) : runner(runner) {}
  ~StopOnExit() { runner->RequestStop(StopReason::kAbandon); }
  JobRunner* runner;
};

class JobRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_dir_ = std::filesystem::temp_directory_path() /
                absl::StrCat("job_runner_test_", getpid(), "_",
                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(work_dir_);
    std::filesystem::create_directories(work_dir_);
    options_.trainer_path = "/opt/switchyard/bin/switchyard-train";
    options_.work_dir = work_dir_.string();
    options_.uploader.backoff.initial = absl::Milliseconds(1);
    options_.uploader.backoff.max = absl::Milliseconds(5);
    options_.backoff = options_.uploader.backoff;
    options_.poll = absl::Milliseconds(10);
    options_.clock = &clock_;

    assignment_.set_job_id(12);
    assignment_.set_sweep_id(3);
    assignment_.mutable_attempt()->set_attempt_id(77);
    assignment_.mutable_attempt()->set_fencing_token("fence-77");
    assignment_.set_attempt_number(1);
    assignment_.set_config_json(R"({"epochs":2,"model":"mlp"})");

    slot_.device.name = slot_.device.kind = "cpu";
    slot_.threads = 3;
  }
  void TearDown() override { std::filesystem::remove_all(work_dir_); }

  std::unique_ptr<JobRunner> MakeRunner() {
    return std::make_unique<JobRunner>(assignment_, slot_, &coordinator_, &launcher_, options_);
  }

  // Runs `runner` on a thread of its own (the slot's, in the daemon).
  std::future<JobResult> Start(JobRunner* runner) {
    return std::async(std::launch::async, [runner] { return runner->Run(); });
  }

  // Runs an attempt (the launcher's `launch`-th) whose trainer writes
  // `stderr_text` and then ends as `end` makes it.
  JobResult RunEndingWith(size_t launch, const std::string& stderr_text,
                          const std::function<void(FakeTrainer&)>& end) {
    auto runner = MakeRunner();
    auto done = Start(runner.get());
    StopOnExit guard(runner.get());
    std::shared_ptr<FakeTrainer> trainer = launcher_.WaitForProcess(launch);
    if (trainer == nullptr) {
      ADD_FAILURE() << "no trainer was launched";
      return {};
    }
    trainer->WriteStderr(stderr_text);
    end(*trainer);
    return done.get();
  }

  std::filesystem::path work_dir_;
  common::FakeClock clock_;
  JobRunnerOptions options_;
  v1::Assignment assignment_;
  Slot slot_;
  FakeCoordinator coordinator_;
  FakeLauncher launcher_;
};

TEST_F(JobRunnerTest, ASuccessfulRunForwardsMetricsCheckpointsAndTheSummary) {
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  std::shared_ptr<FakeTrainer> trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);

  // The trainer was started the way docs/trainer.md says.
  const TrainerSpec& spec = trainer->spec();
  EXPECT_EQ(spec.program, "/opt/switchyard/bin/switchyard-train");
  std::string attempt_dir = (work_dir_ / "attempt-77").string();
  EXPECT_EQ(spec.working_dir, attempt_dir);
  EXPECT_EQ(ArgAfter(spec, "--config"), attempt_dir + "/config.json");
  EXPECT_EQ(ArgAfter(spec, "--checkpoint-dir"), attempt_dir + "/checkpoints");
  EXPECT_EQ(ArgAfter(spec, "--threads"), "3");
  EXPECT_EQ(ArgAfter(spec, "--device"), "cpu");
  EXPECT_FALSE(HasArg(spec, "--resume"));
  EXPECT_EQ(Env(spec, "CUDA_VISIBLE_DEVICES"), "");
  EXPECT_EQ(Env(spec, "OMP_NUM_THREADS"), "3");
  std::ifstream config(attempt_dir + "/config.json");
  std::string config_text((std::istreambuf_iterator<char>(config)), {});
  EXPECT_EQ(config_text, R"({"epochs":2,"model":"mlp"})" "\n");

  trainer->Emit(EpochLine(0, 10, 0.9));
  trainer->Checkpoint(10, "weights-10");
  trainer->Emit("not json at all");  // logged and skipped
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.stored().size() == 1; }));
  clock_.Advance(absl::Seconds(5));
  trainer->Emit(EpochLine(1, 20, 0.7));
  trainer->Checkpoint(20, "weights-20");
  trainer->Emit(R"({"summary":true,"parameters":1234})");
  trainer->WriteStderr("done\n");
  trainer->Exit(0);
  JobResult result = done.get();

  EXPECT_TRUE(result.reported);
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_SUCCEEDED);
  auto finishes = coordinator_.finishes();
  ASSERT_EQ(finishes.size(), 1u);
  EXPECT_EQ(finishes[0].request.outcome(), v1::ATTEMPT_OUTCOME_SUCCEEDED);
  EXPECT_EQ(finishes[0].request.summary_json(), R"({"summary":true,"parameters":1234})");
  EXPECT_EQ(finishes[0].request.attempt().fencing_token(), "fence-77");
  EXPECT_EQ(finishes[0].stored_batches_before, 2) << "FinishJob only after every metric ack";

  auto stored = coordinator_.stored();
  ASSERT_EQ(stored.size(), 2u);
  std::set<std::string> names;
  for (const auto& p : stored[1].points()) {
    names.insert(p.name());
    EXPECT_EQ(p.step(), 10);
    EXPECT_DOUBLE_EQ(p.wall_time(), common::ToUnixSeconds(absl::FromUnixSeconds(1'700'000'000)));
  }
  EXPECT_EQ(names, (std::set<std::string>{"accuracy", "epoch", "eval_loss", "loss",
                                          "samples_per_sec"}));
  EXPECT_DOUBLE_EQ(stored[2].points(0).wall_time(), 1'700'000'005.0);

  // Checkpoints go up, the newest at least, each after its metrics.
  auto puts = coordinator_.puts();
  ASSERT_FALSE(puts.empty());
  EXPECT_EQ(puts.back().step, 20);
  EXPECT_EQ(puts.back().bytes, "weights-20");
  EXPECT_EQ(puts.back().stored_batches_before, 2);
  for (const auto& put : puts) {
    EXPECT_GE(put.stored_batches_before, put.step / 10) << "checkpoint " << put.step;
  }
  EXPECT_EQ(result.last_uploaded_checkpoint_step, 20);
  EXPECT_FALSE(std::filesystem::exists(attempt_dir)) << "the attempt's folder is removed";
}

TEST_F(JobRunnerTest, AGpuSlotShowsTheTrainerItsGpuAsCuda0) {
  slot_.device.name = "cuda:1";
  slot_.device.kind = "cuda";
  slot_.device.index = 1;
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  std::shared_ptr<FakeTrainer> trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  EXPECT_EQ(Env(trainer->spec(), "CUDA_VISIBLE_DEVICES"), "1");
  EXPECT_EQ(Env(trainer->spec(), "CUDA_DEVICE_ORDER"), "PCI_BUS_ID");
  EXPECT_EQ(ArgAfter(trainer->spec(), "--device"), "cuda:0");
  trainer->Exit(0);
  EXPECT_EQ(done.get().outcome, v1::ATTEMPT_OUTCOME_SUCCEEDED);
}

TEST_F(JobRunnerTest, AnEpochBudgetBecomesTheConfigsEpochs) {
  assignment_.set_epoch_budget(1);  // an ASHA rung: 1 of the job's 2 epochs
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  std::shared_ptr<FakeTrainer> trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  std::ifstream file(ArgAfter(trainer->spec(), "--config"));
  nlohmann::json config = nlohmann::json::parse(file);
  EXPECT_EQ(config["epochs"], 1);
  EXPECT_EQ(config["model"], "mlp");
  trainer->Exit(0);
  EXPECT_EQ(done.get().outcome, v1::ATTEMPT_OUTCOME_SUCCEEDED);
}

TEST_F(JobRunnerTest, AStopOrderCreatesTheStopFileAndExit4ReportsStopped) {
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  std::shared_ptr<FakeTrainer> trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  const std::string stop_file = Env(trainer->spec(), "SWITCHYARD_STOP_FILE");
  ASSERT_NE(stop_file, "<unset>");
  EXPECT_FALSE(std::filesystem::exists(stop_file));
  runner->RequestEpochStop();
  runner->RequestEpochStop();  // every heartbeat repeats the order
  EXPECT_TRUE(std::filesystem::exists(stop_file));
  EXPECT_EQ(trainer->terminates(), 0);  // no signal: the program stops at its epoch's end
  trainer->Emit(EpochLine(1, 10, 0.5));
  trainer->Exit(4);
  JobResult result = done.get();
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_STOPPED);
  EXPECT_EQ(result.charged_to, ChargedTo::kNobody);
  ASSERT_EQ(coordinator_.finishes().size(), 1u);
  EXPECT_EQ(coordinator_.finishes()[0].request.outcome(), v1::ATTEMPT_OUTCOME_STOPPED);
}

TEST_F(JobRunnerTest, AClaimWithACheckpointDownloadsItAndResumes) {
  assignment_.set_checkpoint_id(5);
  assignment_.set_checkpoint_step(400);
  coordinator_.AddCheckpoint(5, 400, "saved-weights");
  std::string seen_bytes;
  launcher_.SetOnLaunch([&](FakeTrainer* trainer) {
    std::ifstream in(trainer->checkpoint_dir() + "/ckpt-400.pt");
    seen_bytes.assign((std::istreambuf_iterator<char>(in)), {});
  });
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  std::shared_ptr<FakeTrainer> trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  EXPECT_TRUE(HasArg(trainer->spec(), "--resume"));
  EXPECT_EQ(seen_bytes, "saved-weights");
  trainer->Emit(EpochLine(5, 500, 0.3));
  trainer->Exit(0);
  EXPECT_EQ(done.get().outcome, v1::ATTEMPT_OUTCOME_SUCCEEDED);
  EXPECT_EQ(coordinator_.stored().begin()->second.points(0).step(), 500);
}

TEST_F(JobRunnerTest, ACheckpointThatCannotBeDownloadedFailsTheAttempt) {
  assignment_.set_checkpoint_id(99);  // unknown to the fake: NOT_FOUND
  assignment_.set_checkpoint_step(400);
  auto runner = MakeRunner();
  JobResult result = runner->Run();
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_FAILED);
  EXPECT_TRUE(absl::StrContains(result.cause, "cannot download checkpoint 99")) << result.cause;
  EXPECT_EQ(launcher_.launches(), 0u);
}

TEST_F(JobRunnerTest, ATrainingFailureFailsTheAttemptWithTheStderrTail) {
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  std::shared_ptr<FakeTrainer> trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->Emit(EpochLine(0, 10, 0.9));
  trainer->WriteStderr("epoch 1 ...\nswitchyard-train: training failed: loss is nan at step 13\n");
  trainer->Emit(R"({"error":"loss is nan at step 13","exit_code":3,"step":13})");
  trainer->Exit(3);
  JobResult result = done.get();
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_FAILED);
  auto finishes = coordinator_.finishes();
  ASSERT_EQ(finishes.size(), 1u);
  const std::string& cause = finishes[0].request.cause();
  EXPECT_EQ(cause.substr(0, cause.find('\n')),
            "training failed (trainer exit code 3): loss is nan at step 13");
  EXPECT_TRUE(absl::StrContains(cause, "epoch 1 ...")) << cause;
  EXPECT_EQ(coordinator_.stored().size(), 1u) << "metrics before the failure are kept";
}

TEST_F(JobRunnerTest, ABadConfigIsAConfigErrorAndACrashAFailure) {
  JobResult result = RunEndingWith(0, "config: lr: -1 is out of range\n",
                                   [](FakeTrainer& trainer) { trainer.Exit(2); });
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_CONFIG_ERROR);
  EXPECT_EQ(result.charged_to, ChargedTo::kJob);
  EXPECT_TRUE(absl::StartsWith(result.cause, "bad job config (trainer exit code 2): config: lr"))
      << result.cause;

  assignment_.mutable_attempt()->set_attempt_id(78);
  result = RunEndingWith(1, "switchyard-train: mlp, preset tiny\n",
                         [](FakeTrainer& trainer) { trainer.Crash(SIGSEGV); });
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_FAILED);
  EXPECT_EQ(result.charged_to, ChargedTo::kJob);
  EXPECT_TRUE(absl::StrContains(result.cause, "the trainer crashed: killed by signal 11"))
      << result.cause;
}

TEST_F(JobRunnerTest, ATrainerThatCannotStartIsTheWorkersFault) {
  launcher_.SetLaunchStatus(absl::UnavailableError("cannot start x: Permission denied"));
  auto runner = MakeRunner();
  JobResult result = runner->Run();
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR);
  EXPECT_EQ(result.charged_to, ChargedTo::kWorker);
  EXPECT_TRUE(absl::StrContains(result.cause, "cannot start the trainer")) << result.cause;
}

TEST_F(JobRunnerTest, AnEnvironmentErrorIsReportedWithTheTrainersWords) {
  JobResult result = RunEndingWith(
      0, "switchyard-train: device: cuda:0 requested, but CUDA is not available\n",
      [](FakeTrainer& trainer) { trainer.Exit(5); });
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR);
  EXPECT_EQ(result.charged_to, ChargedTo::kWorker);
  auto finishes = coordinator_.finishes();
  ASSERT_EQ(finishes.size(), 1u);
  EXPECT_EQ(finishes[0].request.outcome(), v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR);
  const std::string& cause = finishes[0].request.cause();
  EXPECT_EQ(cause.substr(0, cause.find('\n')),
            "this worker's environment failed (trainer exit code 5): switchyard-train: device: "
            "cuda:0 requested, but CUDA is not available");
}

TEST_F(JobRunnerTest, CancelSendsSigtermAndReportsCancelledWithoutUploadingCheckpoints) {
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->Emit(EpochLine(0, 10, 0.9));
  runner->RequestStop(StopReason::kCancel);
  JobResult result = done.get();
  EXPECT_EQ(trainer->terminates(), 1);
  EXPECT_EQ(trainer->kills(), 0);
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_CANCELLED);
  ASSERT_EQ(coordinator_.finishes().size(), 1u);
  EXPECT_EQ(coordinator_.finishes()[0].request.outcome(), v1::ATTEMPT_OUTCOME_CANCELLED);
  EXPECT_TRUE(coordinator_.puts().empty());
  EXPECT_EQ(coordinator_.stored().size(), 1u);
}

TEST_F(JobRunnerTest, ATrainerIgnoringCancelIsKilledAfterTheGrace) {
  options_.cancel_grace = absl::Milliseconds(50);
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->SetOnTerminate(nullptr);  // deaf to SIGTERM
  runner->RequestStop(StopReason::kCancel);
  JobResult result = done.get();
  EXPECT_EQ(trainer->kills(), 1);
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_CANCELLED);
}

TEST_F(JobRunnerTest, DrainUploadsTheLastCheckpointThenReportsPreempted) {
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->Emit(EpochLine(0, 10, 0.9));
  trainer->Emit(EpochLine(1, 20, 0.8));
  runner->RequestStop(StopReason::kDrain, absl::Now() + absl::Seconds(30));
  JobResult result = done.get();
  EXPECT_EQ(trainer->terminates(), 1);
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_PREEMPTED);
  auto puts = coordinator_.puts();
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(puts[0].step, 21);  // the fake trainer's SIGTERM checkpoint
  auto finishes = coordinator_.finishes();
  ASSERT_EQ(finishes.size(), 1u);
  EXPECT_EQ(finishes[0].request.outcome(), v1::ATTEMPT_OUTCOME_PREEMPTED);
  EXPECT_TRUE(absl::StartsWith(finishes[0].request.cause(), "worker draining")) 
      << finishes[0].request.cause();
  EXPECT_EQ(finishes[0].stored_batches_before, 2);
}

TEST_F(JobRunnerTest, DrainBeforeTheTrainerStartsHandsTheJobStraightBack) {
  auto runner = MakeRunner();
  runner->RequestStop(StopReason::kDrain, absl::Now() + absl::Seconds(30));
  JobResult result = runner->Run();
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_PREEMPTED);
  EXPECT_EQ(launcher_.launches(), 0u);
}

TEST_F(JobRunnerTest, CancelOverridesDrain) {
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->SetOnTerminate(nullptr);
  runner->RequestStop(StopReason::kDrain, absl::Now() + absl::Seconds(30));
  runner->RequestStop(StopReason::kCancel);
  runner->RequestStop(StopReason::kDrain, absl::Now() + absl::Seconds(30));  // weaker: ignored
  EXPECT_EQ(runner->stop_reason(), StopReason::kCancel);
  trainer->Exit(4);
  EXPECT_EQ(done.get().outcome, v1::ATTEMPT_OUTCOME_CANCELLED);
}

TEST_F(JobRunnerTest, ARefusedFencingTokenKillsTheTrainerAndReportsNothing) {
  coordinator_.SetMetricPolicy([](const v1::MetricBatch&) {
    return absl::FailedPreconditionError("attempt 77: stale fencing token");
  });
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->Emit(EpochLine(0, 10, 0.9));
  JobResult result = done.get();
  EXPECT_TRUE(result.abandoned);
  EXPECT_FALSE(result.reported);
  EXPECT_EQ(trainer->kills(), 1);
  EXPECT_EQ(trainer->terminates(), 0);
  EXPECT_TRUE(coordinator_.finishes().empty());
}

TEST_F(JobRunnerTest, AnAbandonOrderStopsTheJobAtOnce) {
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->Emit(EpochLine(0, 10, 0.9));
  trainer->Checkpoint(10);
  runner->RequestStop(StopReason::kAbandon);
  JobResult result = done.get();
  EXPECT_TRUE(result.abandoned);
  EXPECT_EQ(trainer->kills(), 1);
  EXPECT_TRUE(coordinator_.finishes().empty());
}

TEST_F(JobRunnerTest, ACheckpointWaitsUntilItsMetricsAreAcknowledged) {
  coordinator_.SetShouldAck([](int64_t) { return false; });
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->Emit(EpochLine(0, 10, 0.9));
  trainer->Checkpoint(10);
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return !coordinator_.stored().empty(); }));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE(coordinator_.puts().empty()) << "uploaded before its metrics were acknowledged";
  // The acks get through after a reconnect.
  coordinator_.SetShouldAck(nullptr);
  coordinator_.BreakStreams(absl::UnavailableError("reset"));
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.puts().size() == 1; }));
  trainer->Exit(0);
  EXPECT_EQ(done.get().outcome, v1::ATTEMPT_OUTCOME_SUCCEEDED);
}

TEST_F(JobRunnerTest, FinishJobIsRetriedWhileTheCoordinatorIsUnreachable) {
  coordinator_.SetFinishStatus(absl::UnavailableError("connection refused"));
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->Exit(0);
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.finishes().size() >= 3; }));
  coordinator_.SetFinishStatus(absl::OkStatus());
  JobResult result = done.get();
  EXPECT_TRUE(result.reported);
  EXPECT_EQ(result.outcome, v1::ATTEMPT_OUTCOME_SUCCEEDED);
}

// The report carries the slot's claim and returns the job claimed with it;
// a claim the coordinator refuses (an unknown worker id) does not cost the
// report: it is sent again without the claim.
TEST_F(JobRunnerTest, TheReportClaimsTheNextJobOrGoesWithoutTheClaim) {
  for (bool refuse : {false, true}) {
    SCOPED_TRACE(refuse ? "claim refused" : "claim served");
    FakeCoordinator coordinator;
    coordinator.SetClaimNextStatus(refuse ? absl::NotFoundError("worker 7 not found")
                                          : absl::OkStatus());
    v1::Assignment queued = assignment_;
    queued.set_job_id(99);
    coordinator.PushClaim(queued);
    JobRunnerOptions options = options_;
    options.claim_next = [] {
      v1::ClaimJobRequest claim;
      claim.set_worker_id(7);
      claim.set_device("cpu");
      return std::optional<v1::ClaimJobRequest>(claim);
    };
    FakeLauncher launcher;
    JobRunner runner(assignment_, slot_, &coordinator, &launcher, options);
    auto done = Start(&runner);
    StopOnExit guard(&runner);
    auto trainer = launcher.WaitForProcess(0);
    ASSERT_NE(trainer, nullptr);
    trainer->Exit(0);
    JobResult result = done.get();
    EXPECT_TRUE(result.reported);
    const auto finishes = coordinator.finishes();
    ASSERT_EQ(finishes.size(), refuse ? 2u : 1u);
    EXPECT_TRUE(finishes[0].request.has_claim_next());
    EXPECT_EQ(finishes[0].request.claim_next().worker_id(), 7);
    if (refuse) {
      EXPECT_FALSE(finishes[1].request.has_claim_next());
      EXPECT_FALSE(result.next.has_value());
    } else {
      ASSERT_TRUE(result.next.has_value());
      EXPECT_EQ(result.next->job_id(), 99);
    }
  }
}

TEST_F(JobRunnerTest, AFinishRefusedAsStaleCountsAsAbandoned) {
  coordinator_.SetFinishStatus(absl::FailedPreconditionError("stale"));
  auto runner = MakeRunner();
  auto done = Start(runner.get());
  StopOnExit guard(runner.get());
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->Exit(0);
  JobResult result = done.get();
  EXPECT_TRUE(result.abandoned);
  EXPECT_FALSE(result.reported);
  EXPECT_EQ(coordinator_.finishes().size(), 1u);
}

}  // namespace
}  // namespace switchyard::worker
