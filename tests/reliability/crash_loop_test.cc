// Crash loop: a sweep runs on simulated workers (bench/sim) while the
// coordinator is killed with SIGKILL at 20 random moments and restarted each
// time on the same data folder and port. The sweep must finish with every
// acknowledged metric point stored, with its value, and nothing doubled.
//
// Simulated rather than real workers: the check needs to know exactly which
// points were acknowledged, and a simulated worker reports each
// acknowledgement as it reads it (SimObserver), so "every acknowledged point
// is present" is exact rather than inferred from logs. It also keeps the 20
// kills within two minutes on two cores (no LibTorch training). The
// simulated worker follows the real uploader's contract (keep every batch
// until acknowledged, replay exactly the unacknowledged ones on a new
// stream); the real worker's own replay is covered by the full-disk test and
// tests/e2e/worker (a coordinator killed once).
//
// The seed of the kill moments is printed; SWITCHYARD_CRASH_SEED replays a
// run. The work folder (database, coordinator log, acknowledgement log) is
// kept when the test fails.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/sim/sim_workers.h"
#include "gtest/gtest.h"
#include "tests/reliability/database_checks.h"

namespace switchyard::reliability {
namespace {

constexpr int kKills = 20;
constexpr int kWorkers = 8;
constexpr int kJobs = 480;
constexpr int kBatchesPerJob = 40;
constexpr int kMetrics = 5;
constexpr absl::Duration kBatchInterval = absl::Milliseconds(40);
// Without kills the sweep takes kJobs / kWorkers * kBatchesPerJob *
// kBatchInterval = 96 s, longer than the 20 kills (about 40 s on average,
// 75 s at the most).

// Every acknowledgement the workers read, in memory and in a log file.
class AckLog : public sim::SimObserver {
 public:
  explicit AckLog(const std::string& path) : file_(path) {}
  void Acked(int64_t job_id, int64_t attempt_id,
             const v1::MetricBatch& batch) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++batches_;
    for (const v1::MetricPoint& p : batch.points()) {
      acked_[MetricKey(job_id, p.name(), p.step())] = p.value();
      file_ << job_id << ' ' << attempt_id << ' ' << batch.seq() << ' '
            << p.name() << ' ' << p.step() << ' ' << p.value() << '\n';
    }
  }
  std::map<MetricKey, double> acked() {
    std::lock_guard<std::mutex> lock(mutex_);
    file_.flush();
    return acked_;
  }
  int64_t batches() {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_;
  }

 private:
  std::mutex mutex_;
  std::ofstream file_;
  std::map<MetricKey, double> acked_;
  int64_t batches_ = 0;
};

absl::StatusOr<v1::Sweep> GetSweep(const sim::CoordinatorProcess& coordinator,
                                   int64_t id) {
  auto stub = v1::SweepService::NewStub(sim::NewChannel(coordinator.address()));
  v1::GetSweepRequest request;
  request.set_sweep_id(id);
  grpc::ClientContext context;
  sim::Authorize(&context, coordinator.client_token());
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::Sweep sweep;
  grpc::Status status = stub->GetSweep(&context, request, &sweep);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  return sweep;
}

TEST(CrashLoopTest,
     TwentySigkillsDuringASweepLoseNoAcknowledgedPointAndDoubleNone) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("switchyard-crash-loop-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir + "/data");
  uint64_t seed = 20261201;
  if (const char* env = std::getenv("SWITCHYARD_CRASH_SEED"))
    seed = std::stoull(env);
  std::cout << "kill moments seed " << seed
            << " (SWITCHYARD_CRASH_SEED), folder " << dir << "\n";
  std::mt19937_64 random(seed);

  sim::CoordinatorFlags flags;
  flags.binary = SWITCHYARD_COORDINATOR_BIN;
  flags.data_dir = dir + "/data";
  flags.log_path = dir + "/coordinator.log";
  flags.lease_seconds = 10;  // a restart takes well under a second
  flags.heartbeat_seconds = 1;
  auto started = sim::CoordinatorProcess::Start(flags);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<sim::CoordinatorProcess> coordinator = *std::move(started);
  flags.listen = coordinator->address();  // every restart on the same port
  const std::string client_token = coordinator->client_token();
  const std::string worker_token = coordinator->worker_token();

  int64_t sweep_id = 0;
  {
    auto stub =
        v1::SweepService::NewStub(sim::NewChannel(coordinator->address()));
    absl::StatusOr<int64_t> id =
        sim::SubmitSeeds(stub.get(), client_token, "crash-loop", kJobs);
    ASSERT_TRUE(id.ok()) << id.status();
    sweep_id = *id;
  }

  AckLog acks(dir + "/acked.txt");
  std::vector<std::unique_ptr<sim::SimWorker>> workers;
  for (int i = 0; i < kWorkers; ++i) {
    sim::SimWorkerOptions w;
    w.name = absl::StrCat("sim-", i);
    w.token = worker_token;
    w.address = coordinator->address();
    w.channel = {.own_connection = true, .fast_reconnect = true};
    w.metrics_per_batch = kMetrics;
    w.batches_per_job = kBatchesPerJob;
    w.batch_interval = kBatchInterval;
    w.claim_interval = absl::Milliseconds(200);
    w.retry_delay = absl::Milliseconds(100);
    w.call_deadline = absl::Seconds(5);
    w.observer = &acks;
    w.seed = seed + static_cast<uint64_t>(i);
    workers.push_back(std::make_unique<sim::SimWorker>(w));
    workers.back()->Start();
  }

  // The kills: each after a random 0.3 to 3.5 s of the coordinator's life,
  // so some land while the workers are still replaying after the last one.
  std::uniform_real_distribution<double> life(0.3, 3.5);
  int kills = 0;
  bool finished_early = false;
  std::vector<int64_t> acked_at_kill;
  std::vector<double> restart_ms;  // from the SIGKILL to "listening on"
  for (; kills < kKills; ++kills) {
    absl::SleepFor(absl::Seconds(life(random)));
    absl::StatusOr<v1::Sweep> sweep = GetSweep(*coordinator, sweep_id);
    if (sweep.ok() && sweep->state() == v1::SWEEP_STATE_FINISHED) {
      finished_early = true;
      break;
    }
    acked_at_kill.push_back(acks.batches());
    const absl::Time killed = absl::Now();
    coordinator->Kill(SIGKILL);
    coordinator.reset();
    auto restarted = sim::CoordinatorProcess::Start(flags);
    ASSERT_TRUE(restarted.ok())
        << "restart " << kills + 1 << ": " << restarted.status();
    coordinator = *std::move(restarted);
    restart_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - killed));
  }
  EXPECT_FALSE(finished_early) << "the sweep ended after " << kills << " kills";
  EXPECT_EQ(kills, kKills);
  // Acknowledgements kept coming during the kills (a kill soon after a
  // restart may come before any worker is back: a few such gaps are fine).
  int stalled = 0;
  for (size_t i = 1; i < acked_at_kill.size(); ++i) {
    if (acked_at_kill[i] <= acked_at_kill[i - 1]) ++stalled;
  }
  EXPECT_LE(stalled, kKills / 2) << "no batch acknowledged between most kills";

  // The sweep finishes.
  absl::StatusOr<v1::Sweep> sweep;
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  while (absl::Now() < deadline) {
    sweep = GetSweep(*coordinator, sweep_id);
    if (sweep.ok() && sweep->state() == v1::SWEEP_STATE_FINISHED) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->state(), v1::SWEEP_STATE_FINISHED);
  EXPECT_EQ(sweep->counts().succeeded(), kJobs) << sweep->DebugString();

  for (auto& worker : workers) worker->Stop();
  for (auto& worker : workers) worker->Join();
  const sim::SimWorkerStats total = sim::Total(workers);
  EXPECT_EQ(coordinator->Stop(), 0) << "the coordinator's exit after SIGTERM";

  // The database, read directly once the coordinator is gone.
  auto db = OpenReadOnly(dir + "/data/switchyard.db");
  ASSERT_TRUE(db.ok()) << db.status();
  absl::StatusOr<std::string> integrity = IntegrityCheck(**db);
  ASSERT_TRUE(integrity.ok()) << integrity.status();
  EXPECT_EQ(*integrity, "ok");
  absl::StatusOr<StoredMetrics> stored = ReadMetrics(**db);
  ASSERT_TRUE(stored.ok()) << stored.status();

  // Every acknowledged point is there, with the value that was sent.
  const std::map<MetricKey, double> acked = acks.acked();
  int64_t missing = 0, wrong = 0;
  for (const auto& [key, value] : acked) {
    auto it = stored->values.find(key);
    if (it == stored->values.end()) {
      if (++missing <= 5) {
        ADD_FAILURE() << "acknowledged, not stored: job " << std::get<0>(key)
                      << " " << std::get<1>(key) << " step "
                      << std::get<2>(key);
      }
    } else if (it->second != value) {
      if (++wrong <= 5)
        ADD_FAILURE() << "stored " << it->second << ", acknowledged " << value;
    }
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(wrong, 0);
  // Nothing doubled, nothing extra: each job has steps 1..kBatchesPerJob of
  // each metric exactly once, with the values the workers sent.
  int64_t doubled = 0, unexpected = 0;
  for (const auto& [key, rows] : stored->rows) {
    if (rows != 1) ++doubled;
    const auto& [job, name, step] = key;
    bool known_name = false;
    for (int m = 0; m < kMetrics; ++m) {
      if (name == sim::MetricName(m)) {
        known_name = true;
        if (stored->values.at(key) != sim::PointValue(job, step, m))
          ++unexpected;
      }
    }
    if (!known_name || step < 1 || step > kBatchesPerJob) ++unexpected;
  }
  EXPECT_EQ(doubled, 0);
  EXPECT_EQ(unexpected, 0);
  EXPECT_EQ(stored->values.size(),
            static_cast<size_t>(kJobs) * kBatchesPerJob * kMetrics);
  EXPECT_EQ(acked.size(), stored->values.size());

  // One succeeded attempt per job.
  auto attempts = (*db)->QueryInt64(
      "SELECT COUNT(*) FROM (SELECT job_id FROM attempts WHERE outcome = 2 "
      "GROUP BY job_id "
      "HAVING COUNT(*) = 1)");
  ASSERT_TRUE(attempts.ok()) << attempts.status();
  EXPECT_EQ(*attempts, kJobs);
  auto all_attempts = (*db)->QueryInt64("SELECT COUNT(*) FROM attempts");
  auto lost_attempts =
      (*db)->QueryInt64("SELECT COUNT(*) FROM attempts WHERE outcome = 4");

  std::cout << "kill intervals without a new acknowledgement: " << stalled
            << "\n";
  std::cout << "restart after SIGKILL: median "
            << sim::Percentile(restart_ms, 0.5) << " ms, max "
            << sim::Percentile(restart_ms, 1.0) << " ms\n";
  std::cout << "crash loop: " << kills << " SIGKILLs, " << kJobs
            << " jobs succeeded, " << (all_attempts.ok() ? *all_attempts : -1)
            << " attempts (" << (lost_attempts.ok() ? *lost_attempts : -1)
            << " lost), " << acks.batches() << " batches acknowledged ("
            << acked.size() << " points), " << total.batches_replayed
            << " batches replayed on " << total.streams_opened << " streams, "
            << total.failed_calls
            << " failed calls while the coordinator was down, "
            << stored->values.size() << " points stored, " << missing
            << " acknowledged points missing, " << doubled << " doubled\n";
  for (const auto& [what, n] : total.errors)
    std::cout << "  " << what << ": " << n << "\n";

  if (HasFailure()) {
    std::cout << "work folder kept: " << dir << "\n";
  } else {
    db->reset();
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace switchyard::reliability
