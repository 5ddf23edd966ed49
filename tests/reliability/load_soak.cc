// load_soak: one real switchyard-coordinator on loopback and N simulated
// workers (bench/sim) that register, heartbeat at the interval the
// coordinator names, claim jobs, stream one metric batch per batch interval
// on one ReportMetrics stream per attempt, finish each job after
// --batches-per-job batches and claim the next, for --warmup + --duration
// seconds. Each simulated worker has its own thread and its own TCP
// connection, as a worker daemon has.
//
//   load_soak [--workers 1000] [--duration 60] [--warmup 20] [--batch-interval
//   1]
//             [--metrics 10] [--batches-per-job 30] [--sync full|normal]
//             [--max-rss-growth 0.10] [--prefill-points 1200000] [--csv FILE]
//             [--keep]
//
// Before the workers start, 16 streams write --prefill-points points as fast
// as the coordinator takes them (about 50 MB of database), which fills
// SQLite's page cache (32 MiB per connection, a fixed bound): otherwise the
// cache filling up as the database grows would read as growth in a short
// run. --prefill-points 0 leaves it out: RSS then grows with the database
// (about 0.4 MiB/s at 1,000 workers) until the cache is full.
//
// Measures, after the warm-up: the coordinator's resident memory (VmRSS from
// /proc/PID/status, once a second; split into anonymous, file and shared
// memory in the progress lines and the CSV), heartbeat latency (p50, p99,
// max), and counts every failed call. Passes (exit 0) when no call failed, every worker
// heartbeated, and the mean RSS of the last third of the measurement is at
// most --max-rss-growth above the mean of the first third. See
// docs/reliability.md.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/sim/sim_workers.h"

namespace {

namespace sim = ::switchyard::sim;

struct Options {
  int workers = 1000;
  double duration = 60;  // measured seconds
  double warmup = 20;    // seconds before the measurement
  double batch_interval = 1;
  int metrics = 10;
  int batches_per_job = 30;
  std::string sync = "full";
  double max_rss_growth = 0.10;
  int64_t prefill_points = 1'200'000;
  std::string csv;
  bool keep = false;
};

int Usage() {
  std::cerr << "usage: load_soak [--workers N] [--duration S] [--warmup S] "
               "[--batch-interval S]\n"
               "                 [--metrics N] [--batches-per-job N] [--sync "
               "full|normal]\n"
               "                 [--max-rss-growth F] [--prefill-points N] "
               "[--csv FILE] [--keep]\n";
  return 2;
}

bool ParseArgs(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--keep") {
      options->keep = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    std::string value = argv[++i];
    if (arg == "--workers")
      options->workers = std::stoi(value);
    else if (arg == "--duration")
      options->duration = std::stod(value);
    else if (arg == "--warmup")
      options->warmup = std::stod(value);
    else if (arg == "--batch-interval")
      options->batch_interval = std::stod(value);
    else if (arg == "--metrics")
      options->metrics = std::stoi(value);
    else if (arg == "--batches-per-job")
      options->batches_per_job = std::stoi(value);
    else if (arg == "--sync")
      options->sync = value;
    else if (arg == "--max-rss-growth")
      options->max_rss_growth = std::stod(value);
    else if (arg == "--prefill-points")
      options->prefill_points = std::stoll(value);
    else if (arg == "--csv")
      options->csv = value;
    else
      return false;
  }
  return options->workers > 0 && options->duration >= 3 &&
         options->batches_per_job > 0;
}

// Room for a socket per worker in this process and in the coordinator (which
// inherits the limit).
void RaiseFileLimit(int workers) {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(workers) * 2 + 256;
  if (limit.rlim_cur >= wanted) return;
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    std::cerr << "warning: open files limited to " << limit.rlim_cur
              << " (want " << wanted << ")\n";
  }
}

// The resident set split as /proc/PID/status gives it, in KiB: anonymous
// memory (heap, stacks: where a leak or the allocator's retention shows),
// file mappings (the binary and its libraries) and shared memory (SQLite's
// WAL index, DATA_DIR/switchyard.db-shm, grows with the WAL). -1 when gone.
struct RssParts {
  int64_t anon = -1, file = -1, shmem = -1;
};
RssParts ReadRssParts(pid_t pid) {
  RssParts parts;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  int64_t kib = 0;
  while (status >> key) {
    if (key == "RssAnon:" && status >> kib) parts.anon = kib;
    if (key == "RssFile:" && status >> kib) parts.file = kib;
    if (key == "RssShmem:" && status >> kib) parts.shmem = kib;
  }
  return parts;
}

double Mean(const std::vector<int64_t>& values, size_t from, size_t to) {
  if (to <= from) return 0;
  double sum = 0;
  for (size_t i = from; i < to; ++i) sum += static_cast<double>(values[i]);
  return sum / static_cast<double>(to - from);
}

// Writes `points` metric points through 16 concurrent streams (batches of
// 500, as fast as they are acknowledged) and waits for them.
sim::SimWorkerStats Prefill(const sim::CoordinatorProcess& coordinator,
                            int64_t points) {
  constexpr int kStreams = 16, kPerBatch = 500;
  const int batches = static_cast<int>((points + kStreams * kPerBatch - 1) /
                                       (kStreams * kPerBatch));
  auto client = switchyard::v1::SweepService::NewStub(
      sim::NewChannel(coordinator.address()));
  absl::StatusOr<int64_t> sweep = sim::SubmitSeeds(
      client.get(), coordinator.client_token(), "prefill", kStreams);
  if (!sweep.ok()) {
    sim::SimWorkerStats failed;
    failed.failed_calls = 1;
    failed.first_error = std::string(sweep.status().message());
    return failed;
  }
  std::vector<std::unique_ptr<sim::SimWorker>> streams;
  for (int i = 0; i < kStreams; ++i) {
    sim::SimWorkerOptions w;
    w.name = "prefill-" + std::to_string(i);
    w.token = coordinator.worker_token();
    w.address = coordinator.address();
    w.metrics_per_batch = kPerBatch;
    w.batches_per_job = batches;
    w.batch_interval = absl::ZeroDuration();
    streams.push_back(std::make_unique<sim::SimWorker>(w));
  }
  const absl::Time start = absl::Now();
  for (auto& stream : streams) stream->Start();
  while (true) {
    absl::SleepFor(absl::Milliseconds(200));
    int done = 0;
    for (auto& stream : streams)
      done += stream->stats().jobs_finished > 0 ? 1 : 0;
    if (done == kStreams || absl::Now() - start > absl::Minutes(10)) break;
  }
  for (auto& stream : streams) stream->Stop();
  for (auto& stream : streams) stream->Join();
  sim::SimWorkerStats totals = sim::Total(streams);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf(
      "prefill: %lld points in %.1f s (%.0f points/s), coordinator RSS %.1f "
      "MiB\n",
      static_cast<long long>(totals.points_acked), seconds,
      totals.points_acked / seconds, coordinator.RssKib() / 1024.0);
  std::fflush(stdout);
  return totals;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseArgs(argc, argv, &options)) return Usage();
  RaiseFileLimit(options.workers);
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("switchyard-load-soak-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir + "/data");

  sim::CoordinatorFlags flags;
  flags.binary = SWITCHYARD_COORDINATOR_BIN;
  flags.data_dir = dir + "/data";
  flags.sync = options.sync;
  flags.log_path = dir + "/coordinator.log";
  auto coordinator = sim::CoordinatorProcess::Start(flags);
  if (!coordinator.ok()) {
    std::cerr << coordinator.status().message() << "\n";
    return 1;
  }
  const std::string address = (*coordinator)->address();

  sim::SimWorkerStats prefill_totals;
  if (options.prefill_points > 0) {
    prefill_totals = Prefill(**coordinator, options.prefill_points);
    if (prefill_totals.failed_calls != 0) {
      std::cerr << "prefill failed: " << prefill_totals.first_error << "\n";
      return 1;
    }
  }

  // Enough jobs that no worker runs dry: every worker finishes one job per
  // batches_per_job * batch_interval seconds.
  const double job_seconds = options.batches_per_job * options.batch_interval;
  const int64_t jobs =
      static_cast<int64_t>(options.workers) *
      (static_cast<int64_t>((options.warmup + options.duration) / job_seconds) +
       3);
  auto client = switchyard::v1::SweepService::NewStub(sim::NewChannel(address));
  absl::StatusOr<int64_t> sweep = sim::SubmitSeeds(
      client.get(), (*coordinator)->client_token(), "load-soak", jobs);
  if (!sweep.ok()) {
    std::cerr << sweep.status().message() << "\n";
    return 1;
  }

  std::printf(
      "load soak: %d simulated workers (own connection and thread each), %.0f "
      "s warm-up "
      "+ %.0f s measured, a batch of %d points every %.1f s per worker, %d "
      "batches per "
      "job, %lld jobs, synchronous=%s, %u cores, coordinator pid %d\n",
      options.workers, options.warmup, options.duration, options.metrics,
      options.batch_interval, options.batches_per_job,
      static_cast<long long>(jobs), options.sync.c_str(),
      std::thread::hardware_concurrency(),
      static_cast<int>((*coordinator)->pid()));
  std::fflush(stdout);

  std::vector<std::unique_ptr<sim::SimWorker>> workers;
  for (int i = 0; i < options.workers; ++i) {
    sim::SimWorkerOptions w;
    w.name = "sim-" + std::to_string(i);
    w.token = (*coordinator)->worker_token();
    w.address = address;
    w.channel.own_connection = true;
    w.metrics_per_batch = options.metrics;
    w.batches_per_job = options.batches_per_job;
    w.batch_interval = absl::Seconds(options.batch_interval);
    // First jobs of every length, so that the jobs do not all end together.
    w.first_job_batches = 1 + i % options.batches_per_job;
    w.seed = 1000 + static_cast<uint64_t>(i);
    workers.push_back(std::make_unique<sim::SimWorker>(w));
  }
  const absl::Time started = absl::Now();
  for (auto& worker : workers) worker->Start();

  // Sample RSS once a second; the warm-up's samples are printed, not judged.
  std::vector<std::pair<double, int64_t>>
      samples;  // (seconds since start, KiB)
  std::vector<RssParts> parts;  // beside samples
  const absl::Time measure_from = started + absl::Seconds(options.warmup);
  const absl::Time end = measure_from + absl::Seconds(options.duration);
  bool warm = false;
  absl::Time next_sample = started;
  absl::Time next_report = started + absl::Seconds(10);
  while (absl::Now() < end) {
    absl::SleepFor(next_sample - absl::Now());
    next_sample += absl::Seconds(1);
    const double t = absl::ToDoubleSeconds(absl::Now() - started);
    const int64_t rss = (*coordinator)->RssKib();
    if (rss < 0) {
      std::cerr << "the coordinator is gone\n";
      return 1;
    }
    samples.emplace_back(t, rss);
    parts.push_back(ReadRssParts((*coordinator)->pid()));
    if (!warm && absl::Now() >= measure_from) {
      warm = true;
      for (auto& worker : workers) (void)worker->TakeHeartbeatLatencies();
    }
    if (absl::Now() >= next_report) {
      next_report += absl::Seconds(10);
      sim::SimWorkerStats totals = sim::Total(workers);
      std::printf(
          "  t=%4.0f s  rss %6.1f MiB (anon %.1f, file %.1f, shmem %.1f)  "
          "threads %lld  heartbeats %lld  batches %lld  jobs %lld  "
          "failed calls %lld\n",
          t, rss / 1024.0, parts.back().anon / 1024.0, parts.back().file / 1024.0,
          parts.back().shmem / 1024.0, static_cast<long long>((*coordinator)->Threads()),
          static_cast<long long>(totals.heartbeats),
          static_cast<long long>(totals.batches_acked),
          static_cast<long long>(totals.jobs_finished),
          static_cast<long long>(totals.failed_calls));
      std::fflush(stdout);
    }
  }
  const absl::Duration measured = absl::Now() - measure_from;
  std::vector<double> latencies;
  for (auto& worker : workers) {
    std::vector<double> l = worker->TakeHeartbeatLatencies();
    latencies.insert(latencies.end(), l.begin(), l.end());
  }
  for (auto& worker : workers) worker->Stop();
  for (auto& worker : workers) worker->Join();
  int64_t silent_workers = 0;
  sim::SimWorkerStats totals = sim::Total(workers, &silent_workers);
  // The prefill's failures count too; its empty claims (after its jobs) do not.
  totals.failed_calls += prefill_totals.failed_calls;
  for (const auto& [what, n] : prefill_totals.errors) totals.errors[what] += n;
  const int exit_status = (*coordinator)->Stop();

  std::vector<int64_t> rss;  // the measured samples
  for (const auto& [t, kib] : samples) {
    if (t >= options.warmup) rss.push_back(kib);
  }
  const size_t third = rss.size() / 3;
  const double first = Mean(rss, 0, third) / 1024.0;
  const double last = Mean(rss, rss.size() - third, rss.size()) / 1024.0;
  const double growth = first > 0 ? last / first - 1 : 0;
  const int64_t peak =
      rss.empty() ? 0 : *std::max_element(rss.begin(), rss.end());

  if (!options.csv.empty()) {
    std::ofstream csv(options.csv);
    csv << "seconds,rss_kib,measured,anon_kib,file_kib,shmem_kib\n";
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto& [t, kib] = samples[i];
      csv << t << "," << kib << "," << (t >= options.warmup ? 1 : 0) << "," << parts[i].anon
          << "," << parts[i].file << "," << parts[i].shmem << "\n";
    }
  }

  std::printf(
      "\nRSS over time (MiB, every 10 s from the start; warm-up ends at %.0f "
      "s):\n",
      options.warmup);
  for (size_t i = 0; i < samples.size(); i += 10) {
    std::printf("  %5.0f s  %7.1f\n", samples[i].first,
                samples[i].second / 1024.0);
  }
  const double seconds = absl::ToDoubleSeconds(measured);
  std::printf("\n%-46s %12s\n", "measure", "value");
  std::printf("%-46s %12d\n", "simulated workers", options.workers);
  std::printf("%-46s %12.0f\n", "measured seconds (after warm-up)", seconds);
  std::printf("%-46s %12zu\n", "heartbeats measured", latencies.size());
  std::printf("%-46s %12.2f\n", "heartbeat latency p50 (ms)",
              sim::Percentile(latencies, 0.50));
  std::printf("%-46s %12.2f\n", "heartbeat latency p99 (ms)",
              sim::Percentile(latencies, 0.99));
  std::printf("%-46s %12.2f\n", "heartbeat latency max (ms)",
              sim::Percentile(latencies, 1.0));
  std::printf("%-46s %12lld\n", "metric batches acknowledged (whole run)",
              static_cast<long long>(totals.batches_acked));
  std::printf("%-46s %12lld\n", "metric points acknowledged (whole run)",
              static_cast<long long>(totals.points_acked));
  std::printf("%-46s %12lld\n", "jobs finished (whole run)",
              static_cast<long long>(totals.jobs_finished));
  std::printf("%-46s %12.1f\n", "coordinator RSS, first third mean (MiB)",
              first);
  std::printf("%-46s %12.1f\n", "coordinator RSS, last third mean (MiB)", last);
  std::printf("%-46s %11.1f%%\n", "growth, last vs first third", 100 * growth);
  std::printf("%-46s %12.1f\n", "coordinator RSS peak (MiB)", peak / 1024.0);
  std::printf("%-46s %12lld\n", "failed calls",
              static_cast<long long>(totals.failed_calls));
  for (const auto& [what, n] : totals.errors) {
    std::printf("  %s: %lld\n", what.c_str(), static_cast<long long>(n));
  }
  if (!totals.first_error.empty())
    std::printf("  first: %s\n", totals.first_error.c_str());
  std::printf("%-46s %12d\n", "coordinator exit status after SIGTERM",
              exit_status);

  bool ok = true;
  auto fail = [&](const std::string& why) {
    std::printf("FAIL: %s\n", why.c_str());
    ok = false;
  };
  if (totals.failed_calls != 0) fail("some calls failed");
  if (silent_workers != 0) {
    fail(std::to_string(silent_workers) + " workers never heartbeated");
  }
  if (totals.claims_empty != 0)
    fail("workers ran out of jobs (the sweep was too small)");
  if (rss.size() < 3) fail("too few RSS samples");
  if (growth > options.max_rss_growth) {
    fail("coordinator memory grew by more than " +
         std::to_string(100 * options.max_rss_growth) + "%");
  }
  if (exit_status != 0) fail("the coordinator did not exit cleanly on SIGTERM");
  std::printf("%s\n", ok ? "PASS" : "FAILED");
  if (ok && !options.keep) {
    std::filesystem::remove_all(dir);
  } else {
    std::printf("work folder kept: %s\n", dir.c_str());
  }
  return ok ? 0 : 1;
}
