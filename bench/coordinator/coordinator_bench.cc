// bench/coordinator: a real switchyard-coordinator process on loopback, driven
// by simulated workers over real gRPC, and the same rows inserted straight
// into SQLite by one C++ writer in the same run (the ceiling).
//
//   build/bin/coordinator_bench [--streams 32] [--workers 128] [--points 2000000]
//                               [--claims 20000] [--batch 500] [--sync full|normal]
//
// Prints metric points per second with --streams concurrent ReportMetrics
// streams, claims per second with --workers concurrent claimers, p50/p99
// claim latency, and the ceiling with the ratio against it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_args.h"
#include "bench/coordinator/raw_sqlite.h"
#include "bench/sim/sim_workers.h"
#include "common/rpc/channel.h"
#include "switchyard/v1/switchyard.grpc.pb.h"

namespace {

namespace pb = ::switchyard::v1;
using Clock = std::chrono::steady_clock;

struct Options {
  int streams = 32;
  int workers = 128;
  int64_t points = 2'000'000;
  int64_t claims = 20'000;
  int batch = 500;
  double paced_rate = 2000;  // claims/s offered in the open-loop latency phase
  std::string sync = "full";
};

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

using switchyard::sim::CoordinatorProcess;
using switchyard::sim::Percentile;

std::unique_ptr<CoordinatorProcess> StartCoordinator(
    const std::string& data_dir, const std::string& sync) {
  switchyard::sim::CoordinatorFlags flags;
  flags.binary = SWITCHYARD_COORDINATOR_BIN;
  flags.data_dir = data_dir;
  flags.sync = sync;
  flags.lease_seconds = 600;
  flags.heartbeat_seconds = 60;
  auto coordinator = CoordinatorProcess::Start(flags);
  if (!coordinator.ok()) {
    std::cerr << coordinator.status().message() << "\n";
    std::exit(1);
  }
  return *std::move(coordinator);
}

// Channels carry the token themselves, so the helpers below get none.
std::shared_ptr<grpc::Channel> Channel(const CoordinatorProcess& c,
                                       const std::string& token) {
  switchyard::common::ChannelOptions options;
  options.target = c.address();
  options.token = token;
  return *switchyard::common::MakeChannel(options);
}

int64_t SubmitSeeds(pb::SweepService::Stub* stub, int64_t jobs) {
  auto id = switchyard::sim::SubmitSeeds(stub, "", "bench", jobs);
  if (!id.ok()) {
    std::cerr << "submit: " << id.status().message() << "\n";
    std::exit(1);
  }
  return *id;
}

int64_t Register(pb::WorkerService::Stub* stub, const std::string& name) {
  auto response = switchyard::sim::RegisterCpuWorker(stub, "", name);
  if (!response.ok()) std::exit(1);
  return response->worker_id();
}

// ---------------------------------------------------------------- ingest

struct IngestResult {
  double points_per_second = 0;
  int64_t points = 0;
  int64_t failures = 0;
};

IngestResult BenchIngest(const CoordinatorProcess& c, const Options& options) {
  auto client = pb::SweepService::NewStub(Channel(c, c.client_token()));
  SubmitSeeds(client.get(), options.streams);
  std::vector<pb::Assignment> assignments;
  auto worker_channel = Channel(c, c.worker_token());
  auto worker = pb::WorkerService::NewStub(worker_channel);
  int64_t worker_id = Register(worker.get(), "ingest");
  for (int i = 0; i < options.streams; ++i) {
    pb::ClaimJobRequest request;
    request.set_worker_id(worker_id);
    request.set_device("cpu");
    grpc::ClientContext context;
    pb::ClaimJobResponse response;
    if (!worker->ClaimJob(&context, request, &response).ok() || !response.has_job()) std::exit(1);
    assignments.push_back(response.assignment());
  }
  const int64_t per_stream = options.points / options.streams;
  const int metrics_per_step = 10;
  std::atomic<int64_t> stored{0}, failures{0};
  auto run_stream = [&](int index, int64_t points, int64_t first_step) {
    // Each stream gets its own channel, as each worker daemon would.
    auto stub = pb::WorkerService::NewStub(Channel(c, c.worker_token()));
    grpc::ClientContext context;
    auto stream = stub->ReportMetrics(&context);
    int64_t sent = 0, seq = 0, step = first_step;
    while (sent < points) {
      pb::MetricBatch batch;
      *batch.mutable_attempt() = assignments[index].attempt();
      batch.set_seq(++seq);
      while (batch.points_size() < options.batch && sent < points) {
        for (int m = 0; m < metrics_per_step && sent < points; ++m, ++sent) {
          pb::MetricPoint* point = batch.add_points();
          point->set_name("metric_" + std::to_string(m));
          point->set_step(step);
          point->set_value(0.001 * static_cast<double>(step));
          point->set_wall_time(1.7e9);
        }
        ++step;
      }
      pb::MetricAck ack;
      if (!stream->Write(batch) || !stream->Read(&ack) || ack.acked_seq() != seq) {
        failures.fetch_add(1);
        break;
      }
      stored.fetch_add(batch.points_size());
    }
    stream->WritesDone();
    if (!stream->Finish().ok()) failures.fetch_add(1);
  };
  // Warm-up: a small share per stream, excluded from the timing.
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < options.streams; ++i) {
      threads.emplace_back(run_stream, i, options.batch * 2, int64_t{1'000'000'000});
    }
    for (auto& t : threads) t.join();
  }
  stored = 0;
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < options.streams; ++i) threads.emplace_back(run_stream, i, per_stream, 0);
  for (auto& t : threads) t.join();
  double seconds = Seconds(Clock::now() - start);
  return {static_cast<double>(stored.load()) / seconds, stored.load(), failures.load()};
}

// ---------------------------------------------------------------- claims

struct ClaimResult {
  double claims_per_second = 0;   // closed loop: every claimer asks again at once
  double p50_ms = 0, p99_ms = 0;  // closed loop
  double paced_rate = 0;          // open loop: the claimers together offer this many claims/s
  double paced_p50_ms = 0, paced_p99_ms = 0;
  int64_t claims = 0, failures = 0;
};

ClaimResult BenchClaims(const CoordinatorProcess& c, const Options& options) {
  auto client = pb::SweepService::NewStub(Channel(c, c.client_token()));
  SubmitSeeds(client.get(), options.claims + options.workers * 2 +
                                static_cast<int64_t>(options.paced_rate * 3) + options.workers);
  std::vector<std::vector<double>> latencies(options.workers);
  std::atomic<int64_t> remaining{options.claims}, failures{0};
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 8; ++i) channels.push_back(Channel(c, c.worker_token()));
  std::vector<int64_t> ids;
  {
    auto stub = pb::WorkerService::NewStub(channels[0]);
    for (int i = 0; i < options.workers; ++i) ids.push_back(Register(stub.get(), "claimer-" + std::to_string(i)));
  }
  // pace > 0: this claimer asks once every `pace` (open loop, as real
  // workers do when a slot frees), for `paced_count` claims.
  auto claimer = [&](int index, bool warmup, Clock::duration pace, int paced_count,
                     std::vector<double>* paced) {
    auto stub = pb::WorkerService::NewStub(channels[index % channels.size()]);
    int warm = 2;
    auto next = Clock::now() + pace * index / options.workers;
    while (pace > Clock::duration::zero() ? paced_count-- > 0
           : warmup                      ? warm-- > 0
                                         : remaining.fetch_sub(1) > 0) {
      if (pace > Clock::duration::zero()) {
        std::this_thread::sleep_until(next);
        next += pace;
      }
      pb::ClaimJobRequest request;
      request.set_worker_id(ids[index]);
      request.set_device("cpu");
      grpc::ClientContext context;
      pb::ClaimJobResponse response;
      auto start = Clock::now();
      grpc::Status status = stub->ClaimJob(&context, request, &response);
      double ms = Seconds(Clock::now() - start) * 1000;
      if (!status.ok() || !response.has_job()) {
        failures.fetch_add(1);
        continue;
      }
      if (pace > Clock::duration::zero()) {
        paced->push_back(ms);
      } else if (!warmup) {
        latencies[index].push_back(ms);
      }
    }
  };
  auto none = Clock::duration::zero();
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < options.workers; ++i) threads.emplace_back(claimer, i, true, none, 0, nullptr);
    for (auto& t : threads) t.join();
  }
  auto start = Clock::now();
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < options.workers; ++i) threads.emplace_back(claimer, i, false, none, 0, nullptr);
    for (auto& t : threads) t.join();
  }
  double seconds = Seconds(Clock::now() - start);

  // Open loop: the claimers together offer options.paced_rate claims/s for
  // about three seconds; latency here is what a worker waits at that load.
  std::vector<std::vector<double>> paced(options.workers);
  auto pace = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.workers / options.paced_rate));
  int per_claimer = std::max(1, static_cast<int>(options.paced_rate * 3 / options.workers));
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < options.workers; ++i) {
      threads.emplace_back(claimer, i, false, pace, per_claimer, &paced[i]);
    }
    for (auto& t : threads) t.join();
  }
  std::vector<double> paced_all;
  for (auto& l : paced) paced_all.insert(paced_all.end(), l.begin(), l.end());
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  ClaimResult result;
  result.claims = static_cast<int64_t>(all.size());
  result.failures = failures.load();
  result.claims_per_second = static_cast<double>(all.size()) / seconds;
  result.p50_ms = Percentile(all, 0.50);
  result.p99_ms = Percentile(all, 0.99);
  result.paced_rate = options.paced_rate;
  result.paced_p50_ms = Percentile(paced_all, 0.50);
  result.paced_p99_ms = Percentile(paced_all, 0.99);
  return result;
}

int ParseArgs(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << arg << ": needs a value\n";
        std::exit(1);
      }
      return argv[++i];
    };
    if (arg == "--streams")
      options->streams = ::switchyard::bench::IntFlag("coordinator_bench", arg, value(), 1, 4096);
    else if (arg == "--workers")
      options->workers = ::switchyard::bench::IntFlag("coordinator_bench", arg, value(), 1, 4096);
    else if (arg == "--points")
      options->points = ::switchyard::bench::IntFlag("coordinator_bench", arg, value(), int64_t{1});
    else if (arg == "--claims")
      options->claims = ::switchyard::bench::IntFlag("coordinator_bench", arg, value(), int64_t{0});
    else if (arg == "--batch")
      options->batch = ::switchyard::bench::IntFlag("coordinator_bench", arg, value(), 1, 1000000);
    else if (arg == "--sync") options->sync = value();
    else if (arg == "--paced-rate")
      options->paced_rate = ::switchyard::bench::PositiveFlag("coordinator_bench", arg, value());
    else {
      std::cerr << "unknown flag " << arg << "\n"
                << "usage: coordinator_bench [--streams N] [--workers N] [--points N] "
                   "[--claims N] [--batch N] [--paced-rate R] [--sync full|normal]\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (int rc = ParseArgs(argc, argv, &options); rc != 0) return rc;
  std::string dir = std::filesystem::temp_directory_path() /
                    ("switchyard-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);

  std::printf("coordinator benchmark: %d streams, %d claimers, %lld points, %lld claims, "
              "batch %d, synchronous=%s, %u cores\n",
              options.streams, options.workers, static_cast<long long>(options.points),
              static_cast<long long>(options.claims), options.batch, options.sync.c_str(),
              std::thread::hardware_concurrency());
  std::fflush(stdout);

  auto coordinator = StartCoordinator(dir + "/ingest", options.sync);
  IngestResult ingest = BenchIngest(*coordinator, options);
  coordinator->Stop();

  coordinator = StartCoordinator(dir + "/claims", options.sync);
  ClaimResult claims = BenchClaims(*coordinator, options);
  coordinator->Stop();

  // The same points inserted by one writer straight into SQLite
  // (raw_sqlite.h): committing every batch, then 50,000 rows per commit.
  const int64_t per_stream = options.points / options.streams;
  double raw_per_batch = switchyard::bench::InsertRaw(dir + "/raw-batch.db", options.sync,
                                                      options.streams, per_stream, options.batch)
                             .points_per_second;
  double ceiling = switchyard::bench::InsertRaw(dir + "/raw-bulk.db", options.sync,
                                                options.streams, per_stream, 50'000)
                       .points_per_second;
  std::filesystem::remove_all(dir);

  std::printf("\n%-44s %14s %10s\n", "measure", "value", "target");
  std::printf("%-44s %14.0f %10s\n", "metric points/s (gRPC streams -> SQLite)",
              ingest.points_per_second, ">=100000");
  std::printf("%-44s %14.0f %10s\n", "raw SQLite, one commit per batch", raw_per_batch, "");
  std::printf("%-44s %14.0f %10s\n", "ceiling: raw SQLite, 50k rows per commit", ceiling, "");
  std::printf("%-44s %13.1f%% %10s\n", "ingest / ceiling", 100 * ingest.points_per_second / ceiling,
              "");
  std::printf("%-44s %14.0f %10s\n", "claims/s", claims.claims_per_second, ">=2000");
  std::printf("%-44s %14.2f %10s\n", "claim latency p50 (ms), closed loop", claims.p50_ms, "");
  std::printf("%-44s %14.2f %10s\n", "claim latency p99 (ms), closed loop", claims.p99_ms, "");
  std::printf("%-44s %14.2f %10s\n",
              ("claim latency p50 (ms) at " + std::to_string(int(claims.paced_rate)) + "/s").c_str(),
              claims.paced_p50_ms, "");
  std::printf("%-44s %14.2f %10s\n",
              ("claim latency p99 (ms) at " + std::to_string(int(claims.paced_rate)) + "/s").c_str(),
              claims.paced_p99_ms, "<20");
  std::printf("%-44s %14lld %10s\n", "failed operations", 
              static_cast<long long>(ingest.failures + claims.failures), "0");
  bool met = ingest.points_per_second >= 100000 && claims.claims_per_second >= 2000 &&
             claims.paced_p99_ms < 20 && ingest.failures + claims.failures == 0;
  std::printf("\ntargets %s\n", met ? "met" : "NOT met");
  return 0;
}
