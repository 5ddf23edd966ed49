// bench/compare: Switchyard's side of the comparison (bench/compare/compare.py
// runs it next to Optuna, a Slurm job array and raw SQLite, and prints the
// table). A real switchyard-coordinator child process; every simulated worker
// or metric writer is a separate process of this binary (`worker` mode) with
// its own gRPC connection, so the process counts match the baselines'.
//
//   compare_switchyard dispatch --jobs N --workers P [--reps R] [--sync full|normal]
//       [--claim-next on|off]
//   compare_switchyard ingest --streams S --points TOTAL [--batch 500] [--reps R]
//   compare_switchyard export --jobs J --steps T [--metrics 10] [--reps R]
//
// Each prints one JSON object per repetition on stdout (after a warm-up
// round that is not printed), and exits 1 on any failed or lost operation.
//
// dispatch: workers run the real worker's claim/finish RPC path: ClaimJob,
//   then FinishJob SUCCEEDED at once (a no-op job, and the sweep's config
//   says epochs 0, the trainer's no-op) with claim_next set, as
//   switchyard-worker sends it, so each later job comes with the previous
//   one's report; until no job comes back. --claim-next off makes every job
//   cost a ClaimJob and a FinishJob (the protocol before claim_next). Time 0
//   is just before SubmitSweep; a job's start is when the call that handed
//   it out answered.
// ingest: each writer streams its share of 10-metric steps over one
//   ReportMetrics stream in batches, one batch in flight; lag is from a
//   batch's first point being made to its ack (sent after the commit, so the
//   point is queryable then). Then one C++ writer inserts the same rows
//   straight into SQLite (raw_sqlite.h): per batch, and in 50,000-row
//   transactions (the ceiling).
// export: populates a sweep of J jobs x T steps x M metrics through the
//   streams, then times `switchyard export SWEEP --out FILE` and counts rows.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_args.h"
#include "bench/coordinator/raw_sqlite.h"
#include "bench/sim/sim_workers.h"
#include "switchyard/v1/switchyard.grpc.pb.h"

namespace {

namespace v1 = ::switchyard::v1;
namespace sim = ::switchyard::sim;
using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}
double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "compare_switchyard: " << message << "\n";
  std::exit(1);
}

struct Options {
  std::string mode;
  int64_t jobs = 1000;
  int workers = 8;
  int reps = 3;
  int streams = 32;
  int64_t points = 1'000'000;
  int batch = 500;
  int64_t steps = 100;
  int metrics = 10;
  std::string sync = "full";
  bool claim_next = true;  // dispatch: FinishJob claims the next job
  std::string work_dir;
};

// ------------------------------------------------------------ child processes

// A child process of this binary in `worker` mode: lines in on its stdin,
// lines out on its stdout.
struct Child {
  pid_t pid = 0;
  FILE* in = nullptr;   // we write
  FILE* out = nullptr;  // we read
};

Child SpawnChild(const std::string& address, const std::string& token) {
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) Die("pipe failed");
  pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    dup2(to_child[0], STDIN_FILENO);
    dup2(from_child[1], STDOUT_FILENO);
    close(to_child[0]);
    close(to_child[1]);
    close(from_child[0]);
    close(from_child[1]);
    setenv("SWITCHYARD_BENCH_TOKEN", token.c_str(), 1);
    execl("/proc/self/exe", "compare_switchyard", "worker", address.c_str(),
          static_cast<char*>(nullptr));
    std::perror("exec compare_switchyard worker");
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  Child child;
  child.pid = pid;
  child.in = fdopen(to_child[1], "w");
  child.out = fdopen(from_child[0], "r");
  return child;
}

void Send(Child& child, const std::string& line) {
  std::fputs((line + "\n").c_str(), child.in);
  std::fflush(child.in);
}

std::string ReadLine(Child& child) {
  std::string line;
  int c;
  while ((c = std::fgetc(child.out)) != EOF && c != '\n') line.push_back(static_cast<char>(c));
  if (c == EOF && line.empty()) Die("a worker process ended early");
  return line;
}

void StopChildren(std::vector<Child>& children) {
  for (Child& child : children) {
    Send(child, "quit");
    std::fclose(child.in);
  }
  for (Child& child : children) {
    int status = 0;
    waitpid(child.pid, &status, 0);
    std::fclose(child.out);
  }
}

// `worker` mode: registers one worker (one slot), then serves commands:
//   go CLAIM_NEXT             claims and finishes (CLAIM_NEXT 1: FinishJob
//                             claims the next job) until no job comes back;
//                             answers "done N FAILURES LAST_END_NS"
//                             then N lines "JOB START_NS CLAIM_NS FINISH_NS"
//   stream ATTEMPT TOKEN POINTS FIRST_STEP BATCH METRICS
//                             one ReportMetrics stream; answers
//                             "streamed POINTS FAILURES END_NS" then a line
//                             of per-batch lags in ns
//   quit
int WorkerMain(const std::string& address) {
  const char* token_env = std::getenv("SWITCHYARD_BENCH_TOKEN");
  const std::string token = token_env ? token_env : "";
  auto channel = sim::NewChannel(address, {.own_connection = true});
  auto stub = v1::WorkerService::NewStub(channel);
  int64_t worker_id = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command;
    words >> command;
    if (command == "quit") break;
    if (command == "go") {
      if (worker_id == 0) {
        auto registered = sim::RegisterCpuWorker(stub.get(), token, "compare-" +
                                                 std::to_string(getpid()));
        if (!registered.ok()) Die(std::string(registered.status().message()));
        worker_id = registered->worker_id();
      }
      struct Started {
        int64_t job, start_ns, claim_ns, finish_ns;
      };
      int claim_next = 1;
      words >> claim_next;
      std::vector<Started> started;
      int64_t failures = 0, last_end = NowNs();
      v1::ClaimJobRequest request;
      request.set_worker_id(worker_id);
      request.set_device("cpu");
      // The job handed out with the last report, and when that call was made
      // and answered.
      std::optional<v1::Assignment> next;
      int64_t next_asked = 0, next_answered = 0;
      while (failures < 100) {
        v1::Assignment job;
        int64_t asked = 0, answered = 0;
        if (next.has_value()) {
          job = *std::move(next);
          next.reset();
          asked = next_asked;
          answered = next_answered;
        } else {
          v1::ClaimJobResponse response;
          grpc::ClientContext context;
          sim::Authorize(&context, token);
          asked = NowNs();
          grpc::Status status = stub->ClaimJob(&context, request, &response);
          answered = NowNs();
          if (!status.ok()) {
            ++failures;
            continue;
          }
          if (!response.has_job()) break;
          job = response.assignment();
        }
        started.push_back({job.job_id(), answered, answered - asked, 0});
        v1::FinishJobRequest finish;
        *finish.mutable_attempt() = job.attempt();
        finish.set_outcome(v1::ATTEMPT_OUTCOME_SUCCEEDED);
        finish.set_summary_json("{}");
        if (claim_next != 0) *finish.mutable_claim_next() = request;
        v1::FinishJobResponse finished;
        grpc::ClientContext finish_context;
        sim::Authorize(&finish_context, token);
        next_asked = NowNs();
        grpc::Status status = stub->FinishJob(&finish_context, finish, &finished);
        last_end = next_answered = NowNs();
        started.back().finish_ns = last_end - answered;
        if (!status.ok()) {
          ++failures;
          continue;
        }
        if (claim_next != 0) {
          if (!finished.next().has_job()) break;  // nothing pending
          next = finished.next().assignment();
        }
      }
      std::printf("done %zu %lld %lld\n", started.size(), static_cast<long long>(failures),
                  static_cast<long long>(last_end));
      for (const Started& s : started) {
        std::printf("%lld %lld %lld %lld\n", static_cast<long long>(s.job),
                    static_cast<long long>(s.start_ns), static_cast<long long>(s.claim_ns),
                    static_cast<long long>(s.finish_ns));
      }
      std::fflush(stdout);
    } else if (command == "stream") {
      v1::AttemptRef attempt;
      int64_t attempt_id = 0, points = 0, first_step = 0;
      int batch_size = 0, metrics = 0;
      std::string fencing;
      words >> attempt_id >> fencing >> points >> first_step >> batch_size >> metrics;
      attempt.set_attempt_id(attempt_id);
      attempt.set_fencing_token(fencing);
      int64_t acked = 0, failures = 0, seq = 0, step = first_step, sent = 0;
      std::vector<int64_t> lags;
      grpc::ClientContext context;
      sim::Authorize(&context, token);
      auto stream = stub->ReportMetrics(&context);
      while (sent < points) {
        int64_t made = NowNs();
        v1::MetricBatch batch;
        *batch.mutable_attempt() = attempt;
        batch.set_seq(++seq);
        for (; batch.points_size() < batch_size && sent < points; ++step) {
          for (int m = 0; m < metrics && sent < points; ++m, ++sent) {
            v1::MetricPoint* point = batch.add_points();
            point->set_name(sim::MetricName(m));
            point->set_step(step);
            point->set_value(sim::PointValue(attempt_id, step, m));
            point->set_wall_time(1.7e9);
          }
        }
        v1::MetricAck ack;
        if (!stream->Write(batch) || !stream->Read(&ack) || ack.acked_seq() != seq) {
          ++failures;
          break;
        }
        lags.push_back(NowNs() - made);
        acked += batch.points_size();
      }
      stream->WritesDone();
      grpc::Status status = stream->Finish();
      if (!status.ok()) ++failures;
      std::printf("streamed %lld %lld %lld\n", static_cast<long long>(acked),
                  static_cast<long long>(failures), static_cast<long long>(NowNs()));
      for (int64_t lag : lags) std::printf("%lld ", static_cast<long long>(lag));
      std::printf("\n");
      std::fflush(stdout);
    } else {
      Die("worker: unknown command '" + line + "'");
    }
  }
  return 0;
}

// ------------------------------------------------------------ coordinator side

struct Cluster {
  std::unique_ptr<sim::CoordinatorProcess> coordinator;
  std::unique_ptr<v1::SweepService::Stub> client;
  std::unique_ptr<v1::WorkerService::Stub> worker;
};

Cluster StartCluster(const Options& options, const std::string& name) {
  sim::CoordinatorFlags flags;
  flags.binary = SWITCHYARD_COORDINATOR_BIN;
  flags.data_dir = options.work_dir + "/" + name;
  flags.sync = options.sync;
  flags.lease_seconds = 600;
  flags.heartbeat_seconds = 60;
  std::filesystem::create_directories(flags.data_dir);
  auto coordinator = sim::CoordinatorProcess::Start(flags);
  if (!coordinator.ok()) Die(std::string(coordinator.status().message()));
  Cluster cluster;
  cluster.coordinator = *std::move(coordinator);
  auto channel = sim::NewChannel(cluster.coordinator->address());
  cluster.client = v1::SweepService::NewStub(channel);
  cluster.worker = v1::WorkerService::NewStub(channel);
  return cluster;
}

// A sweep of `jobs` no-op jobs: seeds 0..jobs-1, epochs 0 (the trainer's
// no-op config).
int64_t SubmitNoOps(Cluster& cluster, int64_t jobs, const std::string& name) {
  v1::SubmitSweepRequest request;
  request.mutable_spec()->set_name(name);
  v1::Axis* seeds = request.mutable_spec()->add_axes();
  seeds->set_key("seed");
  for (int64_t i = 0; i < jobs; ++i) seeds->add_values()->set_int_value(i);
  v1::Axis* epochs = request.mutable_spec()->add_axes();
  epochs->set_key("epochs");
  epochs->add_values()->set_int_value(0);
  v1::SubmitSweepResponse response;
  grpc::ClientContext context;
  sim::Authorize(&context, cluster.coordinator->client_token());
  grpc::Status status = cluster.client->SubmitSweep(&context, request, &response);
  if (!status.ok()) Die("submit: " + status.error_message());
  return response.sweep_id();
}

v1::Sweep GetSweep(Cluster& cluster, int64_t sweep_id) {
  v1::GetSweepRequest request;
  request.set_sweep_id(sweep_id);
  v1::Sweep sweep;
  grpc::ClientContext context;
  sim::Authorize(&context, cluster.coordinator->client_token());
  grpc::Status status = cluster.client->GetSweep(&context, request, &sweep);
  if (!status.ok()) Die("get sweep: " + status.error_message());
  return sweep;
}

int64_t CountPoints(Cluster& cluster, int64_t sweep_id) {
  v1::QueryMetricsRequest request;
  request.set_sweep_id(sweep_id);
  grpc::ClientContext context;
  sim::Authorize(&context, cluster.coordinator->client_token());
  auto reader = cluster.client->QueryMetrics(&context, request);
  v1::QueryMetricsResponse chunk;
  int64_t count = 0;
  while (reader->Read(&chunk)) count += chunk.points_size();
  grpc::Status status = reader->Finish();
  if (!status.ok()) Die("query metrics: " + status.error_message());
  return count;
}

// Claims `count` jobs as one registered worker (the ingest and export
// set-ups); every claim must get a job.
std::vector<v1::Assignment> ClaimAll(Cluster& cluster, int64_t count) {
  const std::string& token = cluster.coordinator->worker_token();
  auto registered = sim::RegisterCpuWorker(cluster.worker.get(), token, "setup");
  if (!registered.ok()) Die(std::string(registered.status().message()));
  std::vector<v1::Assignment> assignments;
  for (int64_t i = 0; i < count; ++i) {
    v1::ClaimJobRequest request;
    request.set_worker_id(registered->worker_id());
    request.set_device("cpu");
    v1::ClaimJobResponse response;
    grpc::ClientContext context;
    sim::Authorize(&context, token);
    grpc::Status status = cluster.worker->ClaimJob(&context, request, &response);
    if (!status.ok() || !response.has_job()) Die("set-up claim failed");
    assignments.push_back(response.assignment());
  }
  return assignments;
}

void FinishAll(Cluster& cluster, const std::vector<v1::Assignment>& assignments) {
  for (const v1::Assignment& a : assignments) {
    v1::FinishJobRequest request;
    *request.mutable_attempt() = a.attempt();
    request.set_outcome(v1::ATTEMPT_OUTCOME_SUCCEEDED);
    request.set_summary_json("{}");
    v1::FinishJobResponse response;
    grpc::ClientContext context;
    sim::Authorize(&context, cluster.coordinator->worker_token());
    if (!cluster.worker->FinishJob(&context, request, &response).ok()) Die("set-up finish failed");
  }
}

std::string Json(const std::map<std::string, double>& numbers,
                 const std::map<std::string, std::string>& strings) {
  std::ostringstream out;
  out << "{";
  bool first = true;
  for (const auto& [key, value] : strings) {
    out << (first ? "" : ", ") << "\"" << key << "\": \"" << value << "\"";
    first = false;
  }
  char buffer[64];
  for (const auto& [key, value] : numbers) {
    std::snprintf(buffer, sizeof(buffer), "%.6g", value);
    out << (first ? "" : ", ") << "\"" << key << "\": " << buffer;
    first = false;
  }
  out << "}";
  return out.str();
}

// ------------------------------------------------------------------- dispatch

int Dispatch(const Options& options) {
  Cluster cluster = StartCluster(options, "dispatch");
  std::vector<Child> children;
  for (int i = 0; i < options.workers; ++i) {
    children.push_back(SpawnChild(cluster.coordinator->address(),
                                  cluster.coordinator->worker_token()));
  }
  bool all_ok = true;
  // Round 0 is the warm-up (connections, registration, the first claims).
  for (int rep = 0; rep <= options.reps; ++rep) {
    const int64_t jobs = rep == 0 ? 4 * options.workers : options.jobs;
    const int64_t t0 = NowNs();
    const int64_t sweep_id = SubmitNoOps(cluster, jobs, "dispatch-" + std::to_string(rep));
    const int64_t submitted = NowNs();
    for (Child& child : children) Send(child, options.claim_next ? "go 1" : "go 0");
    std::vector<double> submit_to_start, claim_ms, finish_ms;
    int64_t failures = 0, last_end = t0, started = 0;
    for (Child& child : children) {
      std::istringstream head(ReadLine(child));
      std::string word;
      int64_t n = 0, f = 0, end = 0;
      head >> word >> n >> f >> end;
      failures += f;
      last_end = std::max(last_end, end);
      for (int64_t i = 0; i < n; ++i) {
        std::istringstream row(ReadLine(child));
        int64_t job = 0, start = 0, claim = 0, finish = 0;
        row >> job >> start >> claim >> finish;
        submit_to_start.push_back(Ms(start - t0));
        claim_ms.push_back(Ms(claim));
        finish_ms.push_back(Ms(finish));
      }
      started += n;
    }
    v1::Sweep sweep = GetSweep(cluster, sweep_id);
    const int64_t lost = jobs - sweep.counts().succeeded();
    if (failures != 0 || lost != 0 || started != jobs) all_ok = false;
    if (rep == 0) continue;
    const double seconds = Ms(last_end - t0) / 1000;
    std::printf("%s\n",
                Json({{"rep", rep},
                      {"workers", options.workers},
                      {"jobs", static_cast<double>(jobs)},
                      {"seconds", seconds},
                      {"jobs_per_s", static_cast<double>(started) / seconds},
                      {"submit_ms", Ms(submitted - t0)},
                      {"p50_ms", sim::Percentile(submit_to_start, 0.5)},
                      {"p99_ms", sim::Percentile(submit_to_start, 0.99)},
                      {"claim_p50_ms", sim::Percentile(claim_ms, 0.5)},
                      {"claim_p99_ms", sim::Percentile(claim_ms, 0.99)},
                      {"finish_p50_ms", sim::Percentile(finish_ms, 0.5)},
                      {"finish_p99_ms", sim::Percentile(finish_ms, 0.99)},
                      {"failures", static_cast<double>(failures)},
                      {"not_succeeded", static_cast<double>(lost)}},
                     {{"system", "switchyard"},
                      {"test", "dispatch"},
                      {"claim_next", options.claim_next ? "on" : "off"}})
                    .c_str());
    std::fflush(stdout);
  }
  StopChildren(children);
  cluster.coordinator->Stop();
  return all_ok ? 0 : 1;
}

// --------------------------------------------------------------------- ingest

struct StreamTotals {
  int64_t points = 0, failures = 0, last_end = 0;
  std::vector<double> lag_ms;
};

// Hands assignment i to child i % children and collects the answers.
StreamTotals RunStreams(std::vector<Child>& children, const std::vector<v1::Assignment>& work,
                        int64_t points_each, int64_t first_step, const Options& options) {
  StreamTotals totals;
  for (size_t first = 0; first < work.size(); first += children.size()) {
    size_t n = std::min(children.size(), work.size() - first);
    for (size_t i = 0; i < n; ++i) {
      const v1::Assignment& a = work[first + i];
      Send(children[i], "stream " + std::to_string(a.attempt().attempt_id()) + " " +
                            a.attempt().fencing_token() + " " + std::to_string(points_each) +
                            " " + std::to_string(first_step) + " " +
                            std::to_string(options.batch) + " " +
                            std::to_string(options.metrics));
    }
    for (size_t i = 0; i < n; ++i) {
      std::istringstream head(ReadLine(children[i]));
      std::string word;
      int64_t points = 0, failures = 0, end = 0;
      head >> word >> points >> failures >> end;
      totals.points += points;
      totals.failures += failures;
      totals.last_end = std::max(totals.last_end, end);
      std::istringstream lags(ReadLine(children[i]));
      int64_t lag = 0;
      while (lags >> lag) totals.lag_ms.push_back(Ms(lag));
    }
  }
  return totals;
}

int Ingest(const Options& options) {
  bool all_ok = true;
  const int64_t per_stream = options.points / options.streams;
  for (int rep = 1; rep <= options.reps; ++rep) {
    Cluster cluster = StartCluster(options, "ingest-" + std::to_string(rep));
    std::vector<Child> children;
    for (int i = 0; i < options.streams; ++i) {
      children.push_back(SpawnChild(cluster.coordinator->address(),
                                    cluster.coordinator->worker_token()));
    }
    const int64_t sweep_id = SubmitNoOps(cluster, options.streams, "ingest");
    std::vector<v1::Assignment> work = ClaimAll(cluster, options.streams);
    // Warm-up: two batches per stream at steps far from the measured ones.
    StreamTotals warm = RunStreams(children, work, 2 * options.batch, 1'000'000'000, options);
    const int64_t t0 = NowNs();
    StreamTotals run = RunStreams(children, work, per_stream, 0, options);
    const double seconds = Ms(run.last_end - t0) / 1000;
    const int64_t stored = CountPoints(cluster, sweep_id);
    const int64_t lost = warm.points + run.points - stored;
    StopChildren(children);
    FinishAll(cluster, work);
    cluster.coordinator->Stop();

    const std::string dir = options.work_dir + "/raw-" + std::to_string(rep);
    std::filesystem::create_directories(dir);
    switchyard::bench::RawResult per_batch = switchyard::bench::InsertRaw(
        dir + "/per-batch.db", options.sync, options.streams, per_stream, options.batch);
    switchyard::bench::RawResult ceiling = switchyard::bench::InsertRaw(
        dir + "/bulk.db", options.sync, options.streams, per_stream, 50'000);
    std::filesystem::remove_all(dir);

    const double rate = static_cast<double>(run.points) / seconds;
    if (run.failures + warm.failures != 0 || lost != 0 ||
        run.points != per_stream * options.streams) {
      all_ok = false;
    }
    std::printf(
        "%s\n",
        Json({{"rep", rep},
              {"streams", options.streams},
              {"points", static_cast<double>(run.points)},
              {"seconds", seconds},
              {"points_per_s", rate},
              {"lag_p50_ms", sim::Percentile(run.lag_ms, 0.5)},
              {"lag_p99_ms", sim::Percentile(run.lag_ms, 0.99)},
              {"failures", static_cast<double>(run.failures + warm.failures)},
              {"lost", static_cast<double>(lost)},
              {"raw_batch_points_per_s", per_batch.points_per_second},
              {"raw_batch_lag_p50_ms", sim::Percentile(per_batch.lag_ms, 0.5)},
              {"raw_batch_lag_p99_ms", sim::Percentile(per_batch.lag_ms, 0.99)},
              {"ceiling_points_per_s", ceiling.points_per_second},
              {"ceiling_lag_p50_ms", sim::Percentile(ceiling.lag_ms, 0.5)},
              {"ceiling_lag_p99_ms", sim::Percentile(ceiling.lag_ms, 0.99)}},
             {{"system", "switchyard"}, {"test", "ingest"}})
            .c_str());
    std::fflush(stdout);
  }
  return all_ok ? 0 : 1;
}

// --------------------------------------------------------------------- export

int Export(const Options& options) {
  Cluster cluster = StartCluster(options, "export");
  const int64_t sweep_id = SubmitNoOps(cluster, options.jobs, "export");
  std::vector<v1::Assignment> work = ClaimAll(cluster, options.jobs);
  const int writers = 4;
  std::vector<Child> children;
  for (int i = 0; i < writers; ++i) {
    children.push_back(SpawnChild(cluster.coordinator->address(),
                                  cluster.coordinator->worker_token()));
  }
  const auto populate_start = Clock::now();
  StreamTotals filled =
      RunStreams(children, work, options.steps * options.metrics, 0, options);
  const double populate_s =
      std::chrono::duration<double>(Clock::now() - populate_start).count();
  StopChildren(children);
  FinishAll(cluster, work);
  const int64_t expected = options.jobs * options.steps * options.metrics;
  bool all_ok = filled.failures == 0 && filled.points == expected;

  const std::string csv = options.work_dir + "/export.csv";
  const std::string token_file = options.work_dir + "/export/client.token";
  for (int rep = 0; rep <= options.reps; ++rep) {  // round 0: warm-up (page cache)
    std::filesystem::remove(csv);
    const std::string command = std::string(SWITCHYARD_CLI_BIN) + " --coordinator " +
                                cluster.coordinator->address() + " --token-file " + token_file +
                                " --timeout 600 export " + std::to_string(sweep_id) +
                                " --out " + csv;
    const auto start = Clock::now();
    const int status = std::system(command.c_str());
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    int64_t rows = -1;  // the header is not a row
    {
      std::ifstream in(csv);
      std::string line;
      while (std::getline(in, line)) ++rows;
    }
    if (status != 0 || rows != expected) all_ok = false;
    if (rep == 0) continue;
    std::printf("%s\n", Json({{"rep", rep},
                              {"jobs", static_cast<double>(options.jobs)},
                              {"rows", static_cast<double>(rows)},
                              {"expected_rows", static_cast<double>(expected)},
                              {"seconds", seconds},
                              {"rows_per_s", static_cast<double>(rows) / seconds},
                              {"bytes", static_cast<double>(std::filesystem::file_size(csv))},
                              {"populate_s", populate_s},
                              {"exit_status", static_cast<double>(status)}},
                             {{"system", "switchyard"}, {"test", "export"}})
                            .c_str());
    std::fflush(stdout);
  }
  std::filesystem::remove(csv);
  cluster.coordinator->Stop();
  return all_ok ? 0 : 1;
}

int Usage() {
  std::cerr << "usage: compare_switchyard dispatch|ingest|export [--jobs N] [--workers P] "
               "[--reps R] [--streams S] [--points N] [--batch B] [--steps T] [--metrics M] "
               "[--sync full|normal] [--claim-next on|off] [--work-dir DIR]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "worker") == 0) return WorkerMain(argv[2]);
  if (argc < 2) return Usage();
  signal(SIGPIPE, SIG_IGN);
  Options options;
  options.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return Usage();
    std::string value = argv[++i];
    // A whole number from `min`, or exit 2 naming the flag.
    auto count = [&](auto min, auto max) {
      return ::switchyard::bench::IntFlag("compare_switchyard", flag, value, min, max);
    };
    constexpr int64_t kAny = std::numeric_limits<int64_t>::max();
    if (flag == "--jobs")
      options.jobs = count(int64_t{1}, kAny);
    else if (flag == "--workers")
      options.workers = count(1, 4096);
    else if (flag == "--reps")
      options.reps = count(1, 1000);
    else if (flag == "--streams")
      options.streams = count(1, 4096);
    else if (flag == "--points")
      options.points = count(int64_t{1}, kAny);
    else if (flag == "--batch")
      options.batch = count(1, 1'000'000);
    else if (flag == "--steps")
      options.steps = count(int64_t{1}, kAny);
    else if (flag == "--metrics")
      options.metrics = count(1, 10'000);
    else if (flag == "--sync") options.sync = value;
    else if (flag == "--claim-next" && (value == "on" || value == "off"))
      options.claim_next = value == "on";
    else if (flag == "--work-dir") options.work_dir = value;
    else return Usage();
  }
  const bool own_dir = options.work_dir.empty();
  if (own_dir) {
    options.work_dir = std::filesystem::temp_directory_path() /
                       ("switchyard-compare-" + std::to_string(getpid()));
  }
  std::filesystem::create_directories(options.work_dir);
  int rc = 0;
  if (options.mode == "dispatch") rc = Dispatch(options);
  else if (options.mode == "ingest") rc = Ingest(options);
  else if (options.mode == "export") rc = Export(options);
  else rc = Usage();
  if (own_dir) std::filesystem::remove_all(options.work_dir);
  return rc;
}
