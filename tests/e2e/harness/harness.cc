#include "tests/e2e/harness/harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/rpc/auth.h"
#include "common/rpc/channel.h"
#include "common/rpc/status.h"
#include "common/sweep/sweep_wire.h"

#ifndef SWITCHYARD_E2E_BIN_DIR
#define SWITCHYARD_E2E_BIN_DIR ""
#endif

extern char** environ;

namespace switchyard::e2e {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

std::string BinDir() {
  std::string dir = Env("SWITCHYARD_BIN_DIR");
  return dir.empty() ? SWITCHYARD_E2E_BIN_DIR : dir;
}

// ------------------------------------------------------------------ TempDir

TempDir::TempDir(const std::string& prefix) {
  std::string base = Env("TMPDIR").empty() ? "/tmp" : Env("TMPDIR");
  std::string pattern = absl::StrCat(base, "/", prefix, ".XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  char* made = mkdtemp(buffer.data());
  path_ = made != nullptr ? made : pattern;
  keep_ = !Env("KEEP_WORK").empty();
}

TempDir::~TempDir() {
  if (keep_) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

// ------------------------------------------------------------------ Process

absl::StatusOr<std::unique_ptr<Process>> Process::Start(
    const std::string& program, const std::vector<std::string>& args,
    const std::string& stdout_path, const std::string& stderr_path,
    const std::vector<std::pair<std::string, std::string>>& env) {
  if (access(program.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(program, ": not an executable file"));
  }
  std::vector<std::string> argv_storage = {program};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& [key, value] : env) env_storage.push_back(absl::StrCat(key, "=", value));
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) return absl::NotFoundError("cannot open the log files");
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execve(program.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(out);
  close(err);
  if (pid < 0) return absl::NotFoundError(absl::StrCat("fork: ", std::strerror(errno)));
  return std::unique_ptr<Process>(new Process(pid));
}

Process::~Process() {
  if (!status_.has_value()) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(30));
  }
}

void Process::Signal(int signal) {
  if (!status_.has_value()) kill(pid_, signal);
}

std::optional<int> Process::Wait(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!status_.has_value()) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = status;
      break;
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return status_;
}

bool Process::Running() { return !Wait(absl::ZeroDuration()).has_value(); }

// -------------------------------------------------------------------- files

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int CountText(const std::string& path, const std::string& text) {
  std::string content = ReadFile(path);
  int count = 0;
  for (size_t at = content.find(text); at != std::string::npos; at = content.find(text, at + 1)) {
    ++count;
  }
  return count;
}

bool WaitForText(const std::string& path, const std::string& text, absl::Duration timeout,
                 int count) {
  return WaitUntil([&] { return CountText(path, text) >= count; }, timeout);
}

std::string Tail(const std::string& path, int lines) {
  std::string content = ReadFile(path);
  size_t at = content.size();
  for (int i = 0; i <= lines && at != std::string::npos && at > 0; ++i) {
    at = content.rfind('\n', at - 1);
  }
  return at == std::string::npos ? content : content.substr(at + 1);
}

std::vector<pid_t> ProcessesWithArg(const std::string& needle) {
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    std::string cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
    std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    size_t paren = stat.rfind(')');
    bool zombie = paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
    if (!zombie && cmdline.find(needle) != std::string::npos) found.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return found;
}

bool WaitUntil(const std::function<bool()>& pred, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return true;
}

// -------------------------------------------------------------- Coordinator

Coordinator::Coordinator(std::string data_dir, std::string log_dir, CoordinatorOptions options)
    : data_dir_(std::move(data_dir)), log_dir_(std::move(log_dir)), options_(options) {}

Coordinator::~Coordinator() = default;

std::string Coordinator::log_path() const { return log_dir_ + "/coordinator.log"; }

absl::Status Coordinator::Start() {
  ++starts_;
  std::string listen = address_.empty() ? "127.0.0.1:0" : address_;
  std::string out = absl::StrCat(log_dir_, "/coordinator.", starts_, ".out");
  absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(
      BinDir() + "/switchyard-coordinator",
      {"--data-dir", data_dir_, "--listen", listen, "--lease-seconds",
       absl::StrCat(options_.lease_seconds), "--heartbeat-seconds",
       absl::StrCat(options_.heartbeat_seconds), "--sync", "normal"},
      out, log_path());
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  std::string found;
  bool ready = WaitUntil(
      [&] {
        std::string text = ReadFile(out);
        size_t at = text.find("listening on ");
        size_t end = at == std::string::npos ? at : text.find('\n', at);
        if (end == std::string::npos) return !process_->Running();
        found = text.substr(at + 13, end - at - 13);
        return true;
      },
      absl::Seconds(60));
  if (!ready || found.empty()) {
    return absl::UnavailableError(
        absl::StrCat("the coordinator did not start:\n", Tail(log_path(), 20)));
  }
  address_ = found;
  return absl::OkStatus();
}

void Coordinator::Kill9() {
  if (process_ == nullptr) return;
  process_->Signal(SIGKILL);
  process_->Wait(absl::Seconds(30));
}

void Coordinator::Stop() {
  if (process_ == nullptr) return;
  process_->Signal(SIGTERM);
  if (!process_->Wait(absl::Seconds(30)).has_value()) Kill9();
}

// ------------------------------------------------------------------- Worker

Worker::Worker(const Coordinator& coordinator, std::string log_dir, WorkerOptions options)
    : coordinator_(coordinator), log_dir_(std::move(log_dir)), options_(std::move(options)) {
  work_dir_ = absl::StrCat(log_dir_, "/work-", options_.name);
}

Worker::~Worker() = default;

std::string Worker::log_path() const { return absl::StrCat(log_dir_, "/", options_.name, ".log"); }

absl::Status Worker::Start() {
  std::vector<std::string> args = {
      "--coordinator", coordinator_.address(),
      "--token-file", coordinator_.worker_token_file(),
      "--devices", "cpu",
      "--slots-per-device", absl::StrCat(options_.slots),
      "--threads-per-slot", absl::StrCat(options_.threads_per_slot),
      "--work-dir", work_dir_,
      "--name", options_.name,
      "--drain-timeout", absl::StrCat(options_.drain_timeout)};
  args.insert(args.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  absl::StatusOr<std::unique_ptr<Process>> process =
      Process::Start(BinDir() + "/switchyard-worker", args,
                     absl::StrCat(log_dir_, "/", options_.name, ".out"), log_path());
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  if (!WaitForLog("registered with the coordinator", absl::Seconds(60))) {
    return absl::UnavailableError(
        absl::StrCat("worker ", options_.name, " did not register:\n", Tail(log_path(), 20)));
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------- sweeps

v1::Axis Axis(const std::string& key, const std::vector<Value>& values) {
  v1::Axis axis;
  common::AxisToProto(common::SweepAxis{key, values}, &axis);
  return axis;
}

v1::SweepSpec TinySweep(const std::string& name, std::vector<v1::Axis> axes) {
  std::map<std::string, v1::Axis> by_key;
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, Value>>{{"model", std::string("mlp")},
                                                  {"preset", std::string("small")},
                                                  {"epochs", int64_t{2}},
                                                  {"steps_per_epoch", int64_t{4}},
                                                  {"batch_size", int64_t{16}},
                                                  {"eval_windows", int64_t{200}},
                                                  {"checkpoint_every", int64_t{0}}}) {
    by_key[key] = Axis(key, {value});
  }
  v1::SweepSpec spec;
  spec.set_name(name);
  // The test's own axes first, in their order; defaults for the rest.
  for (v1::Axis& axis : axes) {
    by_key.erase(axis.key());
    *spec.add_axes() = std::move(axis);
  }
  for (auto& [key, axis] : by_key) *spec.add_axes() = axis;
  return spec;
}

// ------------------------------------------------------------------- Client

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const Coordinator& coordinator) {
  absl::StatusOr<std::string> token = common::ReadTokenFile(coordinator.client_token_file());
  if (!token.ok()) return token.status();
  common::ChannelOptions options;
  options.target = coordinator.address();
  options.token = *token;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = common::MakeChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<Client>(new Client(v1::SweepService::NewStub(*channel)));
}

namespace {

template <typename Request, typename Response, typename Method>
absl::StatusOr<Response> Call(Method method, const Request& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  Response response;
  grpc::Status status = method(&context, request, &response);
  if (!status.ok()) return common::FromGrpcStatus(status);
  return response;
}

}  // namespace

absl::StatusOr<int64_t> Client::Submit(const v1::SweepSpec& spec) {
  v1::SubmitSweepRequest request;
  *request.mutable_spec() = spec;
  auto response = Call<v1::SubmitSweepRequest, v1::SubmitSweepResponse>(
      [&](auto* c, const auto& r, auto* out) { return stub_->SubmitSweep(c, r, out); }, request);
  if (!response.ok()) return response.status();
  return response->sweep_id();
}

absl::StatusOr<v1::Sweep> Client::GetSweep(int64_t sweep_id) {
  v1::GetSweepRequest request;
  request.set_sweep_id(sweep_id);
  return Call<v1::GetSweepRequest, v1::Sweep>(
      [&](auto* c, const auto& r, auto* out) { return stub_->GetSweep(c, r, out); }, request);
}

absl::StatusOr<std::vector<v1::Job>> Client::ListJobs(int64_t sweep_id) {
  v1::ListJobsRequest request;
  request.set_sweep_id(sweep_id);
  auto response = Call<v1::ListJobsRequest, v1::ListJobsResponse>(
      [&](auto* c, const auto& r, auto* out) { return stub_->ListJobs(c, r, out); }, request);
  if (!response.ok()) return response.status();
  return std::vector<v1::Job>(response->jobs().begin(), response->jobs().end());
}

absl::StatusOr<v1::Job> Client::GetJob(int64_t job_id) {
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  return Call<v1::GetJobRequest, v1::Job>(
      [&](auto* c, const auto& r, auto* out) { return stub_->GetJob(c, r, out); }, request);
}

absl::StatusOr<v1::CancelResponse> Client::CancelSweep(int64_t sweep_id) {
  v1::CancelRequest request;
  request.set_sweep_id(sweep_id);
  return Call<v1::CancelRequest, v1::CancelResponse>(
      [&](auto* c, const auto& r, auto* out) { return stub_->CancelSweep(c, r, out); }, request);
}

absl::StatusOr<std::vector<v1::JobMetricPoint>> Client::QueryMetrics(int64_t sweep_id) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::QueryMetricsRequest request;
  request.set_sweep_id(sweep_id);
  auto reader = stub_->QueryMetrics(&context, request);
  std::vector<v1::JobMetricPoint> points;
  v1::QueryMetricsResponse chunk;
  while (reader->Read(&chunk)) points.insert(points.end(), chunk.points().begin(), chunk.points().end());
  grpc::Status status = reader->Finish();
  if (!status.ok()) return common::FromGrpcStatus(status);
  return points;
}

absl::StatusOr<v1::Sweep> Client::WaitForSweep(int64_t sweep_id, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::Sweep> sweep = GetSweep(sweep_id);
    if (sweep.ok() && sweep->state() == v1::SWEEP_STATE_FINISHED) return sweep;
    if (!sweep.ok()) last = sweep.status();
    absl::SleepFor(absl::Milliseconds(250));
  }
  return absl::DeadlineExceededError(absl::StrCat("sweep ", sweep_id, " did not finish in ",
                                                  absl::FormatDuration(timeout),
                                                  last.ok() ? "" : "; last error: ",
                                                  last.ok() ? "" : last.ToString()));
}

std::map<std::pair<int64_t, std::string>, std::vector<int64_t>> StepsByJobAndName(
    const std::vector<v1::JobMetricPoint>& points) {
  std::map<std::pair<int64_t, std::string>, std::vector<int64_t>> steps;
  for (const v1::JobMetricPoint& p : points) {
    steps[{p.job_id(), p.point().name()}].push_back(p.point().step());
  }
  for (auto& [key, list] : steps) std::sort(list.begin(), list.end());
  return steps;
}

}  // namespace switchyard::e2e
