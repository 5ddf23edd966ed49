#include "worker/agent/daemon.h"

#include <unistd.h>

#include <filesystem>
#include <future>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/worker/agent/fakes.h"

namespace switchyard::worker {
namespace {

using testing::FakeCoordinator;
using testing::FakeLauncher;
using testing::FakeTrainer;

v1::Assignment MakeAssignment(int64_t job, int64_t attempt) {
  v1::Assignment a;
  a.set_job_id(job);
  a.set_sweep_id(1);
  a.mutable_attempt()->set_attempt_id(attempt);
  a.mutable_attempt()->set_fencing_token(absl::StrCat("fence-", attempt));
  a.set_attempt_number(1);
  a.set_config_json("{}");
  return a;
}

// Drains the daemon when a test leaves early, so that the future of Run()
// does not block the test's end forever.
struct DrainOnExit {
  explicit DrainOnExit(WorkerDaemon* daemon) : daemon(daemon) {}
  ~DrainOnExit() { daemon->Drain(); }
  WorkerDaemon* daemon;
};

class WorkerDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_dir_ = std::filesystem::temp_directory_path() /
                absl::StrCat("daemon_test_", getpid(), "_",
                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(work_dir_);
    std::filesystem::create_directories(work_dir_);
    DeviceInfo cpu;
    cpu.name = cpu.kind = "cpu";
    cpu.memory_bytes = int64_t{8} << 30;
    cpu.description = "Test CPU";
    options_.coordinator = "127.0.0.1:1";
    options_.name = "worker-a";
    options_.hostname = "host-a";
    options_.devices = {cpu};
    options_.slots_per_device = 2;
    options_.threads_per_slot = 1;
    options_.build_version = "0.1.0";
    options_.trainer_version = "switchyard-train 0.1.0";
    options_.drain_timeout = absl::Seconds(20);
    options_.min_claim_interval = absl::Milliseconds(10);
    options_.backoff.initial = absl::Milliseconds(1);
    options_.backoff.max = absl::Milliseconds(10);
    options_.runner.trainer_path = "/bin/false";
    options_.runner.work_dir = work_dir_.string();
    options_.runner.poll = absl::Milliseconds(10);
    options_.runner.backoff = options_.backoff;
    options_.runner.uploader.backoff = options_.backoff;
  }
  void TearDown() override { std::filesystem::remove_all(work_dir_); }

  std::filesystem::path work_dir_;
  DaemonOptions options_;
  FakeCoordinator coordinator_;
  FakeLauncher launcher_;
};

TEST_F(WorkerDaemonTest, RegistersWhatItOffersAndRunsWhatItClaims) {
  coordinator_.PushClaim(MakeAssignment(1, 10));
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->Emit(R"({"epoch":0,"step":5,"loss":1.5})");
  trainer->Exit(0);
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.finishes().size() == 1; }));
  daemon.Drain();
  ASSERT_TRUE(run.get().ok());

  auto registrations = coordinator_.registrations();
  ASSERT_EQ(registrations.size(), 1u);
  const v1::RegisterWorkerRequest& r = registrations[0];
  EXPECT_EQ(r.name(), "worker-a");
  EXPECT_EQ(r.hostname(), "host-a");
  EXPECT_EQ(r.build_version(), "0.1.0");
  EXPECT_EQ(r.trainer_version(), "switchyard-train 0.1.0");
  ASSERT_EQ(r.devices_size(), 1);
  EXPECT_EQ(r.devices(0).name(), "cpu");
  EXPECT_EQ(r.devices(0).slots(), 2);
  EXPECT_EQ(r.devices(0).memory_bytes(), int64_t{8} << 30);
  EXPECT_EQ(coordinator_.finishes()[0].request.outcome(), v1::ATTEMPT_OUTCOME_SUCCEEDED);
  EXPECT_EQ(daemon.worker_id(), 7);
}

TEST_F(WorkerDaemonTest, EachFreeSlotClaimsAJob) {
  coordinator_.PushClaim(MakeAssignment(1, 10));
  coordinator_.PushClaim(MakeAssignment(2, 20));
  coordinator_.PushClaim(MakeAssignment(3, 30));
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  auto first = launcher_.WaitForProcess(0);
  auto second = launcher_.WaitForProcess(1);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(launcher_.launches(), 2u) << "two slots, two jobs at once";
  EXPECT_EQ(daemon.busy_slots(), 2);
  first->Exit(0);
  auto third = launcher_.WaitForProcess(2);
  ASSERT_NE(third, nullptr);
  second->Exit(0);
  third->Exit(0);
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.finishes().size() == 3; }));
  daemon.Drain();
  EXPECT_TRUE(run.get().ok());
}

// A finished job's report claims the slot's next job (FinishJob's
// claim_next): jobs 2 and 3 start without another ClaimJob call.
TEST_F(WorkerDaemonTest, AReportClaimsTheSlotsNextJob) {
  options_.slots_per_device = 1;
  coordinator_.PushClaim(MakeAssignment(1, 10));
  coordinator_.PushClaim(MakeAssignment(2, 20));
  coordinator_.PushClaim(MakeAssignment(3, 30));
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  for (size_t i = 0; i < 3; ++i) {
    auto trainer = launcher_.WaitForProcess(i);
    ASSERT_NE(trainer, nullptr) << "job " << i + 1;
    EXPECT_EQ(coordinator_.claims(), 1) << "job " << i + 1 << " came with a report";
    trainer->Exit(0);
  }
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.finishes().size() == 3; }));
  daemon.Drain();
  ASSERT_TRUE(run.get().ok());
  for (const auto& finish : coordinator_.finishes()) {
    EXPECT_EQ(finish.request.outcome(), v1::ATTEMPT_OUTCOME_SUCCEEDED);
    ASSERT_TRUE(finish.request.has_claim_next());
    EXPECT_EQ(finish.request.claim_next().worker_id(), 7);
    EXPECT_EQ(finish.request.claim_next().device(), "cpu");
  }
}

TEST_F(WorkerDaemonTest, StatsSumTheRunningJobsAndCountHowAttemptsEnded) {
  coordinator_.PushClaim(MakeAssignment(1, 10));
  coordinator_.PushClaim(MakeAssignment(2, 20));
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  auto first = launcher_.WaitForProcess(0);
  auto second = launcher_.WaitForProcess(1);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  first->Emit(R"({"epoch":0,"step":5,"loss":1.5,"samples_per_sec":100})");
  second->Emit(R"({"epoch":0,"step":5,"loss":1.5,"samples_per_sec":250})");
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return daemon.Stats().samples_per_sec == 350; }));
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return daemon.Stats().coordinator_reachable; }));
  WorkerStats running = daemon.Stats();
  EXPECT_EQ(running.worker_id, 7);
  EXPECT_EQ(running.slots, 2);
  EXPECT_EQ(running.busy_slots, 2);
  EXPECT_EQ(running.jobs_claimed, 2);
  EXPECT_TRUE(running.attempts_ended.empty());

  first->Exit(0);
  second->Exit(3);  // a training failure
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.finishes().size() == 2; }));
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return daemon.Stats().busy_slots == 0; }));
  WorkerStats ended = daemon.Stats();
  EXPECT_EQ(ended.samples_per_sec, 0);
  EXPECT_EQ(ended.unacked_metric_batches, 0);
  EXPECT_EQ(ended.attempts_ended["succeeded"], 1);
  EXPECT_EQ(ended.attempts_ended["failed"], 1);
  daemon.Drain();
  EXPECT_TRUE(run.get().ok());
  EXPECT_TRUE(daemon.Stats().draining);
}

TEST_F(WorkerDaemonTest, HeartbeatsCarryTheRunningAttemptsAndDeliverCancelOrders) {
  coordinator_.PushClaim(MakeAssignment(1, 10));
  std::atomic<bool> cancel{false};
  coordinator_.SetHeartbeatHandler([&](const v1::HeartbeatRequest& request) {
    v1::HeartbeatResponse response;
    for (const auto& attempt : request.attempts()) {
      if (cancel && attempt.attempt_id() == 10) {
        v1::Order* order = response.add_orders();
        order->set_attempt_id(10);
        order->set_kind(v1::Order::KIND_CANCEL);
      }
    }
    return response;
  });
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  ASSERT_TRUE(coordinator_.WaitUntil([&] {
    for (const auto& hb : coordinator_.heartbeats()) {
      if (hb.attempts_size() == 1 && hb.attempts(0).fencing_token() == "fence-10" &&
          hb.slots_busy() == 1 && hb.worker_id() == 7) {
        return true;
      }
    }
    return false;
  }));
  cancel = true;
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.finishes().size() == 1; }));
  EXPECT_EQ(trainer->terminates(), 1);
  EXPECT_EQ(coordinator_.finishes()[0].request.outcome(), v1::ATTEMPT_OUTCOME_CANCELLED);
  daemon.Drain();
  EXPECT_TRUE(run.get().ok());
}

TEST_F(WorkerDaemonTest, AnAbandonOrderKillsTheTrainer) {
  coordinator_.PushClaim(MakeAssignment(1, 10));
  std::atomic<bool> abandon{false};  // only once the trainer runs
  coordinator_.SetHeartbeatHandler([&](const v1::HeartbeatRequest& request) {
    v1::HeartbeatResponse response;
    for (const auto& attempt : request.attempts()) {
      if (!abandon) continue;
      v1::Order* order = response.add_orders();
      order->set_attempt_id(attempt.attempt_id());
      order->set_kind(v1::Order::KIND_ABANDON);
    }
    return response;
  });
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  abandon = true;
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return trainer->kills() == 1; }));
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return daemon.busy_slots() == 0; }));
  EXPECT_TRUE(coordinator_.finishes().empty());
  daemon.Drain();
  EXPECT_TRUE(run.get().ok());
}

TEST_F(WorkerDaemonTest, DrainHandsRunningJobsBackAsPreemptedAndStopsClaiming) {
  coordinator_.PushClaim(MakeAssignment(1, 10));
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  trainer->Emit(R"({"epoch":0,"step":5,"loss":1.5})");
  coordinator_.PushClaim(MakeAssignment(2, 20));  // must not start
  absl::Time start = absl::Now();
  daemon.Drain();
  ASSERT_TRUE(run.get().ok());
  EXPECT_LT(absl::Now() - start, options_.drain_timeout);
  EXPECT_EQ(trainer->terminates(), 1);
  // Job 2 is claimed only when the free slot's claim races the drain; it is
  // then handed straight back, preempted like job 1 (its trainer may or may
  // not have started), and nothing is claimed after the drain began.
  auto finishes = coordinator_.finishes();
  ASSERT_GE(finishes.size(), 1u);
  ASSERT_LE(finishes.size(), 2u);
  bool job1_finished = false;
  for (const auto& finish : finishes) {
    EXPECT_EQ(finish.request.outcome(), v1::ATTEMPT_OUTCOME_PREEMPTED);
    EXPECT_FALSE(finish.request.has_claim_next()) << "a draining slot takes no new job";
    job1_finished |= finish.request.attempt().attempt_id() == 10;
  }
  EXPECT_TRUE(job1_finished);
  EXPECT_LE(launcher_.launches(), finishes.size());
  int job1_puts = 0;
  for (const auto& put : coordinator_.puts()) {
    if (put.attempt.attempt_id() != 10) continue;
    ++job1_puts;
    EXPECT_EQ(put.step, 6) << "the checkpoint the drain asked for";
  }
  EXPECT_EQ(job1_puts, 1);
}

TEST_F(WorkerDaemonTest, DrainMeetsItsDeadlineWhenTheTrainerIgnoresSigterm) {
  options_.drain_timeout = absl::Seconds(2);
  coordinator_.PushClaim(MakeAssignment(1, 10));
  launcher_.SetOnLaunch([](FakeTrainer* trainer) { trainer->SetOnTerminate(nullptr); });
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  auto trainer = launcher_.WaitForProcess(0);
  ASSERT_NE(trainer, nullptr);
  absl::Time start = absl::Now();
  daemon.Drain();
  ASSERT_TRUE(run.get().ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(trainer->kills(), 1);
  ASSERT_EQ(coordinator_.finishes().size(), 1u);
  EXPECT_EQ(coordinator_.finishes()[0].request.outcome(), v1::ATTEMPT_OUTCOME_PREEMPTED);
  // The drain lasted long enough for heartbeats to say so.
  bool draining_reported = false;
  for (const auto& hb : coordinator_.heartbeats()) draining_reported |= hb.draining();
  EXPECT_TRUE(draining_reported);
}

TEST_F(WorkerDaemonTest, RegistrationIsRetriedWhileTheCoordinatorIsUnreachable) {
  coordinator_.PushRegisterResult(absl::UnavailableError("connection refused"));
  coordinator_.PushRegisterResult(absl::UnavailableError("connection refused"));
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.claims() > 0; }));
  EXPECT_EQ(coordinator_.registrations().size(), 3u);
  daemon.Drain();
  EXPECT_TRUE(run.get().ok());
}

TEST_F(WorkerDaemonTest, ARefusedRegistrationEndsRun) {
  coordinator_.PushRegisterResult(absl::UnauthenticatedError("wrong worker token"));
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  absl::Status status = daemon.Run();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("wrong worker token"), std::string::npos);
}

TEST_F(WorkerDaemonTest, AWorkerTheCoordinatorForgotRegistersAgain) {
  std::atomic<int> calls{0};
  coordinator_.SetHeartbeatHandler(
      [&](const v1::HeartbeatRequest&) -> absl::StatusOr<v1::HeartbeatResponse> {
        if (calls++ == 0) return absl::NotFoundError("worker 7: unknown");
        return v1::HeartbeatResponse();
      });
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.registrations().size() == 2; }));
  daemon.Drain();
  EXPECT_TRUE(run.get().ok());
}

TEST_F(WorkerDaemonTest, OneJobsFailureLeavesTheOthersAndTheDaemonRunning) {
  coordinator_.PushClaim(MakeAssignment(1, 10));
  coordinator_.PushClaim(MakeAssignment(2, 20));
  WorkerDaemon daemon(options_, &coordinator_, &launcher_);
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  DrainOnExit guard(&daemon);  // a failed ASSERT must not leave Run() waiting
  auto a = launcher_.WaitForProcess(0);
  auto b = launcher_.WaitForProcess(1);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a->WriteStderr("switchyard-train: training\n");  // a crash mid-run: the job's failure
  a->Crash(SIGSEGV);
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.finishes().size() == 1; }));
  EXPECT_FALSE(b->exited());
  coordinator_.PushClaim(MakeAssignment(3, 30));
  auto c = launcher_.WaitForProcess(2);
  ASSERT_NE(c, nullptr);
  b->Exit(0);
  c->Exit(0);
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.finishes().size() == 3; }));
  daemon.Drain();
  EXPECT_TRUE(run.get().ok());
  auto finishes = coordinator_.finishes();
  EXPECT_EQ(finishes[0].request.outcome(), v1::ATTEMPT_OUTCOME_FAILED);
  EXPECT_EQ(finishes[1].request.outcome(), v1::ATTEMPT_OUTCOME_SUCCEEDED);
  EXPECT_EQ(finishes[2].request.outcome(), v1::ATTEMPT_OUTCOME_SUCCEEDED);
}

}  // namespace
}  // namespace switchyard::worker
