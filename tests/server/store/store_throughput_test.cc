// A quick throughput check of SqliteStore on this machine: claims per second
// with 128 concurrent claimers (and their latency), and metric points per
// second from 32 concurrent AppendMetrics callers. Prints the figures;
// asserts only correctness, because timings on a shared machine are noise
// for a test. bench/ holds the real benchmark.
//
// SWITCHYARD_STORE_SYNC=normal runs with synchronous=NORMAL.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/core/coordinator.h"
#include "server/store/sqlite_store.h"
#include "tests/server/store/temp_dir.h"

namespace switchyard::server {
namespace {

// CPU seconds this process has used (all threads): on a shared machine this
// says more about the store's cost than the wall clock does.
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::unique_ptr<SqliteStore> Open(const std::string& path) {
  SqliteStore::Options options;
  options.path = path;
  const char* sync = std::getenv("SWITCHYARD_STORE_SYNC");
  if (sync != nullptr && std::string(sync) == "normal") {
    options.synchronous = sqlite::Synchronous::kNormal;
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

int64_t MakeSweep(SqliteStore& store, int jobs, int64_t* first_job = nullptr) {
  SweepRecord sweep;
  sweep.name = "bench";
  sweep.max_attempts = 3;
  sweep.created_at = absl::Now();
  std::vector<NewJob> cells;
  for (int i = 0; i < jobs; ++i) {
    cells.push_back({i, absl::StrCat("cell", i),
                     absl::StrCat("{\"model\":\"transformer\",\"attention\":\"softmax\","
                                  "\"tasks\":\"IARC\",\"seed\":", i, "}")});
  }
  absl::StatusOr<int64_t> id = store.CreateSweep(sweep, cells);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.value_or(0);
}

int64_t Worker(SqliteStore& store) {
  WorkerRecord worker;
  worker.name = "bench";
  worker.devices = {{"cpu", "cpu", 0, 1, ""}};
  worker.registered_at = worker.last_seen = absl::Now();
  return store.RegisterWorker(worker).value_or(0);
}

void PrintGroupLatency(const SqliteStore& store) {
  const StoreStats stats = store.Stats();
  std::printf("  write groups by duration:");
  int64_t below = 0;
  for (size_t i = 0; i < stats.commit_bucket_bounds.size(); ++i) {
    std::printf(" <=%gms:%lld", stats.commit_bucket_bounds[i] * 1e3,
                static_cast<long long>(stats.commit_bucket_counts[i] - below));
    below = stats.commit_bucket_counts[i];
  }
  std::printf(" more:%lld (mean %.2f ms)\n", static_cast<long long>(stats.commits - below),
              stats.commits > 0 ? stats.commit_seconds_sum / stats.commits * 1e3 : 0.0);
}

TEST(StoreThroughputTest, Claims) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = Open(dir.File("claims.db"));
  ASSERT_NE(store, nullptr);
  constexpr int kJobs = 20000, kClaimers = 128;
  MakeSweep(*store, kJobs);
  const int64_t worker = Worker(*store);
  std::vector<std::vector<double>> latencies(kClaimers);
  std::atomic<int> claimed{0}, errors{0};
  const int64_t groups_before = store->WriteGroupCount();
  const absl::Time start = absl::Now();
  const double cpu_start = CpuSeconds();
  std::vector<std::thread> threads;
  for (int t = 0; t < kClaimers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        ClaimParams params;
        params.worker_id = worker;
        params.device = "cpu";
        params.fencing_token = absl::StrCat("tok-", t, "-", i);
        params.now = absl::Now();
        params.lease_expires = params.now + absl::Seconds(60);
        const absl::Time before = absl::Now();
        absl::StatusOr<std::optional<Assignment>> a = store->ClaimJob(params);
        latencies[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - before));
        if (!a.ok()) {
          ++errors;
          return;
        }
        if (!a->has_value()) return;
        ++claimed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = CpuSeconds() - cpu_start;
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.load(), kJobs);
  std::printf("claims: %d in %.2f s = %.0f/s with %d claimers; latency p50 %.2f ms, p99 %.2f ms, "
              "max %.2f ms; %lld write groups; %.1f us CPU per claim\n",
              kJobs, seconds, kJobs / seconds, kClaimers, all[all.size() / 2],
              all[all.size() * 99 / 100], all.back(),
              static_cast<long long>(store->WriteGroupCount() - groups_before), cpu / kJobs * 1e6);
  PrintGroupLatency(*store);
}

// The same claimers held to a target rate (2,000 claims/s in all, each
// claimer pacing itself), for the latency at that rate rather than at
// saturation.
TEST(StoreThroughputTest, ClaimsAtATargetRate) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = Open(dir.File("paced.db"));
  ASSERT_NE(store, nullptr);
  constexpr int kClaimers = 128, kRate = 2000, kSeconds = 5;
  constexpr int kJobs = kRate * kSeconds;
  MakeSweep(*store, kJobs);
  const int64_t worker = Worker(*store);
  const absl::Duration interval = absl::Seconds(1) * kClaimers / kRate;
  std::vector<std::vector<double>> latencies(kClaimers);
  std::atomic<int> claimed{0}, errors{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kClaimers; ++t) {
    threads.emplace_back([&, t] {
      // Spread the claimers' phases over one interval.
      absl::Time next = start + interval * t / kClaimers;
      for (int i = 0;; ++i) {
        absl::SleepFor(next - absl::Now());
        next += interval;
        ClaimParams params;
        params.worker_id = worker;
        params.device = "cpu";
        params.fencing_token = absl::StrCat("tok-", t, "-", i);
        params.now = absl::Now();
        params.lease_expires = params.now + absl::Seconds(60);
        const absl::Time before = absl::Now();
        absl::StatusOr<std::optional<Assignment>> a = store->ClaimJob(params);
        latencies[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - before));
        if (!a.ok()) {
          ++errors;
          return;
        }
        if (!a->has_value()) return;
        ++claimed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.load(), kJobs);
  std::printf("paced claims: %d in %.2f s = %.0f/s (target %d/s) with %d claimers; latency p50 "
              "%.2f ms, p99 %.2f ms, max %.2f ms\n",
              kJobs, seconds, kJobs / seconds, kRate, kClaimers, all[all.size() / 2],
              all[all.size() * 99 / 100], all.back());
  PrintGroupLatency(*store);
}

TEST(StoreThroughputTest, MetricIngest) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = Open(dir.File("metrics.db"));
  ASSERT_NE(store, nullptr);
  constexpr int kCallers = 32, kBatches = 60, kSteps = 50;
  const char* kNames[] = {"train/loss", "train/acc", "val/loss", "val/acc", "lr",
                          "grad_norm",  "tokens_s",  "task0",    "task1",   "task2"};
  // 10 names x 50 steps = 500 points a batch.
  MakeSweep(*store, kCallers);
  const int64_t worker = Worker(*store);
  std::vector<AttemptRef> attempts;
  for (int i = 0; i < kCallers; ++i) {
    ClaimParams params;
    params.worker_id = worker;
    params.fencing_token = absl::StrCat("tok", i);
    params.now = absl::Now();
    params.lease_expires = params.now + absl::Hours(1);
    absl::StatusOr<std::optional<Assignment>> a = store->ClaimJob(params);
    ASSERT_TRUE(a.ok() && a->has_value());
    attempts.push_back((*a)->attempt);
  }
  std::atomic<int64_t> points{0};
  std::atomic<int> errors{0};
  const absl::Time start = absl::Now();
  const double cpu_start = CpuSeconds();
  std::vector<std::thread> threads;
  for (int t = 0; t < kCallers; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        MetricBatchWrite batch{attempts[t], {}};
        for (int s = 0; s < kSteps; ++s) {
          for (const char* name : kNames) {
            const int64_t step = int64_t{b} * kSteps + s;
            batch.points.push_back({name, step, 1.0 / (step + 1), 1.7e9 + step});
          }
        }
        absl::StatusOr<std::vector<absl::Status>> r = store->AppendMetrics({batch});
        if (!r.ok() || !(*r)[0].ok()) {
          ++errors;
          return;
        }
        points += static_cast<int64_t>(batch.points.size());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = CpuSeconds() - cpu_start;
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(points.load(), int64_t{kCallers} * kBatches * kSteps * 10);
  std::printf("metrics: %lld points in %.2f s = %.0f points/s from %d callers (batches of %d); "
              "%.2f us CPU per point\n",
              static_cast<long long>(points.load()), seconds, points.load() / seconds, kCallers,
              kSteps * 10, cpu / points.load() * 1e6);
  PrintGroupLatency(*store);
}

// The views (issue 15) over a sweep of 1,000 jobs x 1,000 steps of one
// metric (a million points): what QuerySeries (downsampled to 100 buckets a
// series) and Aggregate (x = step, one group) cost. Prints the figures.
TEST(StoreThroughputTest, ViewsOfAThousandJobsByAThousandSteps) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = Open(dir.File("views.db"));
  ASSERT_NE(store, nullptr);
  constexpr int kJobs = 1000, kSteps = 1000;
  const int64_t sweep = MakeSweep(*store, kJobs);
  const int64_t worker = Worker(*store);
  std::vector<MetricBatchWrite> batches;
  std::vector<AttemptRef> attempts;
  for (int i = 0; i < kJobs; ++i) {
    ClaimParams params;
    params.worker_id = worker;
    params.fencing_token = absl::StrCat("tok", i);
    params.now = absl::Now();
    params.lease_expires = params.now + absl::Hours(1);
    absl::StatusOr<std::optional<Assignment>> a = store->ClaimJob(params);
    ASSERT_TRUE(a.ok() && a->has_value());
    attempts.push_back((*a)->attempt);
    MetricBatchWrite batch{(*a)->attempt, {}};
    for (int step = 0; step < kSteps; ++step) {
      batch.points.push_back({"loss", step, 1.0 / (1 + step) + 0.001 * i, 1.7e9});
    }
    batches.push_back(std::move(batch));
    if (batches.size() == 100) {
      ASSERT_TRUE(store->AppendMetrics(batches).ok());
      batches.clear();
    }
  }
  Coordinator coordinator(store.get(), common::Clock::Real(), nullptr, CoordinatorOptions{});

  absl::Time start = absl::Now();
  double cpu_start = CpuSeconds();
  SeriesQuery query;
  query.sweep_id = sweep;
  query.max_points = 100;
  absl::StatusOr<std::vector<SeriesResult>> series = coordinator.QuerySeries(query);
  ASSERT_TRUE(series.ok()) << series.status();
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  ASSERT_EQ(series->size(), static_cast<size_t>(kJobs));
  for (const SeriesResult& s : *series) {
    ASSERT_EQ(s.points, kSteps);
    ASSERT_EQ(s.buckets.size(), 100u);
  }
  std::printf("QuerySeries: %d series x %d points -> 100 buckets each in %.2f s (%.2f s CPU)\n",
              kJobs, kSteps, seconds, CpuSeconds() - cpu_start);

  start = absl::Now();
  cpu_start = CpuSeconds();
  query.max_points = 100;
  query.after_step = kSteps - 11;  // a live view's poll: the last 10 steps
  series = coordinator.QuerySeries(query);
  ASSERT_TRUE(series.ok()) << series.status();
  std::printf("QuerySeries after_step: %d series x 10 new points in %.2f s (%.2f s CPU)\n", kJobs,
              absl::ToDoubleSeconds(absl::Now() - start), CpuSeconds() - cpu_start);

  // Aggregate counts succeeded jobs: finish them all (16 threads share commits).
  std::vector<std::thread> finishers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 16; ++t) {
    finishers.emplace_back([&, t] {
      for (int i = t; i < kJobs; i += 16) {
        if (!store->FinishAttempt(attempts[i], AttemptOutcome::kSucceeded, "", "", absl::Now())
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : finishers) t.join();
  ASSERT_EQ(failures.load(), 0);

  AggregateQuery aggregate;
  aggregate.sweep_id = sweep;
  aggregate.name = "loss";
  for (const char* x : {"final", "step"}) {
    aggregate.x = x;
    start = absl::Now();
    cpu_start = CpuSeconds();
    absl::StatusOr<AggregateResult> result = coordinator.Aggregate(aggregate);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->groups.size(), 1u);
    ASSERT_EQ(result->groups[0].points.size(), std::string(x) == "step" ? size_t{kSteps} : 1u);
    EXPECT_EQ(result->groups[0].points.back().y.n, kJobs);
    std::printf("Aggregate x=%s over %d jobs: %.2f s (%.2f s CPU)\n", x, kJobs,
                absl::ToDoubleSeconds(absl::Now() - start), CpuSeconds() - cpu_start);
  }
}

}  // namespace
}  // namespace switchyard::server
