// bench/ui: the dashboard at ten million points (issue 15), measured in
// headless Chromium against a real coordinator and a real `switchyard ui`.
//
//   build/bench/ui/ui_bench --switchyard build/bin/switchyard \
//       --measure bench/ui/measure.mjs [--jobs 1000] [--metrics 10]
//       [--steps 1000] [--live 10] [--pages 10] [--seconds 30]
//       [--keep] [--reuse DIR]
//
// --keep leaves the work folder (its database holds the sweep); --reuse DIR
// starts from such a folder instead of filling a new one (the prefill takes
// minutes): the live jobs' old attempts expire and new live workers take
// them.
//
// 1. A coordinator child gets one sweep of --jobs + --live jobs (model x
//    attention x lr x seed) and simulated workers (bench/sim: real gRPC,
//    no training) that write --jobs jobs x --metrics metrics x --steps steps
//    at full speed (10M points by default) and finish them, while --live
//    workers keep their jobs running, one step of every metric each 500 ms.
// 2. `switchyard ui` serves the page; measure.mjs (puppeteer-core and
//    Debian's chromium) opens the sweep page in a fresh browser and reports
//    the time to the first paint of its grouped curves and the bytes the
//    browser received for it, then opens --pages pages on the live sweep and
//    logs, for --seconds, when each pushed point was drawn.
// 3. This program reports the first paint, the bytes, the lag from each
//    point's commit (the simulated worker's acknowledgement) to its drawing
//    (p50, p95, max), and the coordinator's CPU (user + system seconds per
//    second) with the pages open against the same live load without them.
//
// Targets (issue 15): first paint under 1.5 s, under 2 MB, lag p95 under 1 s.
// Exit status 1 when a step failed; unmet targets are reported, not failures.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/sim/sim_workers.h"

namespace switchyard::bench {
namespace {

namespace v1 = ::switchyard::v1;

struct Options {
  std::string switchyard;  // the CLI binary
  std::string node = "/usr/bin/node";
  std::string measure;     // measure.mjs
  int jobs = 1000, metrics = 10, steps = 1000, live = 10, pages = 10;
  int seconds = 30;
  int prefill_workers = 24;
  bool keep = false;
  std::string reuse;       // a kept work folder
};

void Usage() {
  std::cerr << "usage: ui_bench --switchyard PATH --measure measure.mjs [--node PATH] "
               "[--jobs N] [--metrics N] [--steps N] [--live N] [--pages N] [--seconds N] "
               "[--keep] [--reuse DIR]\n";
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--keep") {
      o->keep = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 10);
    const bool number = end != value.c_str() && *end == '\0' && n >= 0;
    if (arg == "--switchyard") o->switchyard = value;
    else if (arg == "--reuse") o->reuse = value;
    else if (arg == "--node") o->node = value;
    else if (arg == "--measure") o->measure = value;
    else if (number && arg == "--jobs") o->jobs = int(n);
    else if (number && arg == "--metrics") o->metrics = int(n);
    else if (number && arg == "--steps") o->steps = int(n);
    else if (number && arg == "--live") o->live = int(n);
    else if (number && arg == "--pages") o->pages = int(n);
    else if (number && arg == "--seconds") o->seconds = int(n);
    else return false;
  }
  return !o->switchyard.empty() && !o->measure.empty() && o->jobs > 0 && o->live > 0;
}

// When every acknowledged point of the live jobs was committed.
class CommitLog : public sim::SimObserver {
 public:
  void Acked(int64_t job_id, int64_t, const v1::MetricBatch& batch) override {
    const double now_ms = absl::ToUnixMillis(absl::Now());
    std::lock_guard<std::mutex> lock(mutex_);
    for (const v1::MetricPoint& p : batch.points()) {
      acked_.emplace(std::make_tuple(job_id, p.name(), p.step()), now_ms);
    }
  }
  // Unix milliseconds of the commit, or -1.
  double At(int64_t job, const std::string& name, int64_t step) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = acked_.find(std::make_tuple(job, name, step));
    return it == acked_.end() ? -1 : it->second;
  }

 private:
  std::mutex mutex_;
  std::map<std::tuple<int64_t, std::string, int64_t>, double> acked_;
};

// User + system CPU seconds of a process so far (/proc/PID/stat).
double CpuSeconds(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A child whose stdout we read line by line.
struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
  bool ReadLine(std::string* line) {
    char buffer[4096];
    if (std::fgets(buffer, sizeof buffer, out) == nullptr) return false;
    *line = buffer;
    while (!line->empty() && (line->back() == '\n' || line->back() == '\r')) line->pop_back();
    return true;
  }
  int Wait() {
    int status = 0;
    if (out != nullptr) std::fclose(out);
    out = nullptr;
    if (pid > 0) waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
  void Terminate() {
    if (pid > 0) kill(pid, SIGTERM);
  }
};

Child Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  int pipe_fds[2];
  Child child;
  if (pipe(pipe_fds) != 0) return child;
  child.pid = fork();
  if (child.pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    FILE* log = std::fopen(log_path.c_str(), "w");
    if (log != nullptr) dup2(fileno(log), STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  child.out = fdopen(pipe_fds[0], "r");
  return child;
}

double Percentile(std::vector<double> values, double q) { return sim::Percentile(values, q); }

int Run(const Options& o) {
  const std::string work =
      !o.reuse.empty() ? o.reuse
                       : absl::StrCat(std::filesystem::temp_directory_path().string(),
                                      "/switchyard-ui-bench-", getpid());
  if (o.reuse.empty()) {
    std::filesystem::remove_all(work);
    std::filesystem::create_directories(work);
  }
  sim::CoordinatorFlags flags;
  flags.binary = SWITCHYARD_COORDINATOR_BIN;
  flags.data_dir = work + "/coordinator";
  flags.sync = "normal";
  absl::StatusOr<std::unique_ptr<sim::CoordinatorProcess>> coordinator =
      sim::CoordinatorProcess::Start(flags);
  if (!coordinator.ok()) {
    std::cerr << "ui_bench: " << coordinator.status() << "\n";
    return 1;
  }
  sim::CoordinatorProcess& coord = **coordinator;

  // One sweep: 2 attention kinds x 5 learning rates x seeds.
  const int total = o.jobs + o.live;
  const int seeds = (total + 9) / 10;
  auto stub = v1::SweepService::NewStub(sim::NewChannel(coord.address()));
  int64_t sweep_id = o.reuse.empty() ? 0 : 1;
  if (o.reuse.empty()) {
    v1::SubmitSweepRequest request;
    v1::SweepSpec* spec = request.mutable_spec();
    spec->set_name("ui-bench");
    auto axis = [&](const std::string& key) {
      v1::Axis* a = spec->add_axes();
      a->set_key(key);
      return a;
    };
    axis("model")->add_values()->set_string_value("transformer");
    v1::Axis* attention = axis("attention");
    for (const char* kind : {"softmax", "expressive"}) attention->add_values()->set_string_value(kind);
    v1::Axis* lr = axis("lr");
    for (double v : {1e-4, 3e-4, 1e-3, 3e-3, 1e-2}) lr->add_values()->set_float_value(v);
    v1::Axis* seed = axis("seed");
    for (int s = 1; s <= seeds; ++s) seed->add_values()->set_int_value(s);
    grpc::ClientContext context;
    sim::Authorize(&context, coord.client_token());
    v1::SubmitSweepResponse response;
    grpc::Status status = stub->SubmitSweep(&context, request, &response);
    if (!status.ok()) {
      std::cerr << "ui_bench: SubmitSweep: " << status.error_message() << "\n";
      return 1;
    }
    sweep_id = response.sweep_id();
    std::printf("sweep %lld: %lld jobs\n", static_cast<long long>(sweep_id),
                static_cast<long long>(response.job_count()));
  }

  // The live jobs first (the lowest ids), then the prefill.
  CommitLog commits;
  std::vector<std::unique_ptr<sim::SimWorker>> live;
  for (int i = 0; i < o.live; ++i) {
    sim::SimWorkerOptions w;
    w.name = absl::StrCat("live-", i);
    w.token = coord.worker_token();
    w.address = coord.address();
    w.metrics_per_batch = o.metrics;
    w.batches_per_job = 1'000'000;
    w.batch_interval = absl::Milliseconds(500);
    w.observer = &commits;
    w.seed = i + 1;
    live.push_back(std::make_unique<sim::SimWorker>(w));
    live.back()->Start();
  }
  // A reused folder's live jobs wait for their old attempts' leases (30 s).
  for (int waited = 0; waited < (o.reuse.empty() ? 300 : 900); ++waited) {
    int64_t claimed = 0;
    for (auto& w : live) claimed += w->stats().claims - w->stats().claims_empty;
    if (claimed >= o.live) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  const absl::Time prefill_start = absl::Now();
  std::vector<std::unique_ptr<sim::SimWorker>> prefill;
  for (int i = 0; o.reuse.empty() && i < o.prefill_workers; ++i) {
    sim::SimWorkerOptions w;
    w.name = absl::StrCat("prefill-", i);
    w.token = coord.worker_token();
    w.address = coord.address();
    w.metrics_per_batch = o.metrics;
    w.batches_per_job = o.steps;
    w.batch_interval = absl::ZeroDuration();
    w.seed = 100 + i;
    prefill.push_back(std::make_unique<sim::SimWorker>(w));
    prefill.back()->Start();
  }
  while (o.reuse.empty()) {
    absl::SleepFor(absl::Milliseconds(500));
    int64_t finished = 0;
    for (auto& w : prefill) finished += w->stats().jobs_finished;
    if (finished >= o.jobs) break;
    if (absl::Now() - prefill_start > absl::Minutes(30)) {
      std::cerr << "ui_bench: the prefill did not finish in 30 minutes\n";
      return 1;
    }
  }
  for (auto& w : prefill) w->Stop();
  for (auto& w : prefill) w->Join();
  const sim::SimWorkerStats filled = sim::Total(prefill);
  const double prefill_seconds = absl::ToDoubleSeconds(absl::Now() - prefill_start);
  if (o.reuse.empty()) std::printf("prefill: %lld points in %.1f s (%.0f points/s)\n",
              static_cast<long long>(filled.points_acked), prefill_seconds,
              filled.points_acked / prefill_seconds);
  std::fflush(stdout);

  // The dashboard.
  const std::string token_file = flags.data_dir + "/client.token";
  Child ui = Spawn({o.switchyard, "--coordinator", coord.address(), "--token-file", token_file,
                    "ui", "--listen", "127.0.0.1:0"},
                   work + "/ui.log");
  std::string line;
  if (!ui.ReadLine(&line) || line.rfind("serving on ", 0) != 0) {
    std::cerr << "ui_bench: switchyard ui did not start (" << line << "); see " << work
              << "/ui.log\n";
    return 1;
  }
  const std::string url = line.substr(std::string("serving on ").size());

  // The coordinator's CPU under the live load alone.
  const double base_cpu0 = CpuSeconds(coord.pid());
  absl::SleepFor(absl::Seconds(o.seconds / 2 > 5 ? o.seconds / 2 : 5));
  const double base_seconds = o.seconds / 2 > 5 ? o.seconds / 2 : 5;
  const double base_cpu = (CpuSeconds(coord.pid()) - base_cpu0) / base_seconds;

  const std::string result_path = work + "/measure.json";
  Child node = Spawn({o.node, o.measure, url, absl::StrCat(sweep_id), absl::StrCat(o.pages),
                      absl::StrCat(o.seconds), result_path},
                     work + "/measure.log");
  double pages_cpu = -1;
  while (node.ReadLine(&line)) {
    std::printf("measure: %s\n", line.c_str());
    std::fflush(stdout);
    if (line == "pages open") {
      const double cpu0 = CpuSeconds(coord.pid());
      const absl::Time t0 = absl::Now();
      if (!node.ReadLine(&line)) break;  // "pages done"
      std::printf("measure: %s\n", line.c_str());
      pages_cpu = (CpuSeconds(coord.pid()) - cpu0) / absl::ToDoubleSeconds(absl::Now() - t0);
    }
  }
  const int node_status = node.Wait();
  ui.Terminate();
  ui.Wait();
  for (auto& w : live) w->Stop();
  for (auto& w : live) w->Join();
  if (!WIFEXITED(node_status) || WEXITSTATUS(node_status) != 0) {
    std::cerr << "ui_bench: measure.mjs failed; see " << work << "/measure.log\n";
    return 1;
  }
  std::ifstream result_file(result_path);
  nlohmann::json result = nlohmann::json::parse(result_file, nullptr, false);
  if (!result.is_object()) {
    std::cerr << "ui_bench: no result from measure.mjs\n";
    return 1;
  }
  // Lag: commit (acknowledged to the simulated worker) -> drawn on a page.
  std::vector<double> lags;
  int64_t unmatched = 0;
  for (const nlohmann::json& p : result.value("drawn", nlohmann::json::array())) {
    const double committed = commits.At(p[0].get<int64_t>(), p[1].get<std::string>(),
                                        p[2].get<int64_t>());
    if (committed < 0) {
      ++unmatched;
      continue;
    }
    lags.push_back(p[3].get<double>() - committed);
  }
  const double first_paint = result.value("first_paint_ms", -1.0);
  const double bytes = result.value("bytes", -1.0);
  std::printf("\n%d jobs x %d metrics x %d steps, %d live jobs, %d pages\n", o.jobs, o.metrics,
              o.steps, o.live, o.pages);
  std::printf("first paint of the sweep page with its grouped curves: %.0f ms (target < 1500: %s)\n",
              first_paint, first_paint >= 0 && first_paint < 1500 ? "met" : "NOT met");
  std::printf("bytes to the browser for that view: %.0f (%.2f MB; target < 2 MB: %s)\n", bytes,
              bytes / 1e6, bytes >= 0 && bytes < 2e6 ? "met" : "NOT met");
  if (lags.empty()) {
    std::printf("lag: no pushed point was drawn (%lld unmatched)\n",
                static_cast<long long>(unmatched));
  } else {
    const double p95 = Percentile(lags, 0.95);
    std::printf("lag commit -> pixel over %zu drawn points: p50 %.0f ms, p95 %.0f ms, max %.0f ms "
                "(target p95 < 1000: %s)\n",
                lags.size(), Percentile(lags, 0.5), p95, Percentile(lags, 1.0),
                p95 < 1000 ? "met" : "NOT met");
  }
  std::printf("coordinator CPU: %.3f s/s under the live load alone, %.3f s/s with %d pages open "
              "(ratio %.2f)\n",
              base_cpu, pages_cpu, o.pages, base_cpu > 0 ? pages_cpu / base_cpu : 0.0);
  if (!o.keep && o.reuse.empty()) {
    coord.Stop();
    std::filesystem::remove_all(work);
  } else {
    std::printf("work folder kept: %s\n", work.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace switchyard::bench

int main(int argc, char** argv) {
  switchyard::bench::Options options;
  if (!switchyard::bench::ParseArgs(argc, argv, &options)) {
    switchyard::bench::Usage();
    return 2;
  }
  return switchyard::bench::Run(options);
}
