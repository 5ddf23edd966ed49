#include "bench/sim/sim_workers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/rpc/auth.h"

namespace switchyard::sim {
namespace {

std::string ReadFrom(const std::string& path, std::streamoff offset) {
  std::ifstream in(path);
  if (!in) return "";
  in.seekg(offset);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::streamoff FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

std::string Tail(const std::string& text, size_t bytes) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

bool IsFenced(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
         status.error_code() == grpc::StatusCode::NOT_FOUND;
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return absl::StrCat("code ", static_cast<int>(code));
  }
}

}  // namespace

// ------------------------------------------------------------ coordinator

absl::StatusOr<std::unique_ptr<CoordinatorProcess>> CoordinatorProcess::Start(
    const CoordinatorFlags& flags, absl::Duration timeout) {
  const std::string log_path =
      flags.log_path.empty()
          ? (std::filesystem::path(flags.data_dir).parent_path() /
             "coordinator.log")
                .string()
          : flags.log_path;
  // Opened here, so that a bad path is this call's error, not the child's.
  const int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log_fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", log_path, ": ", std::strerror(errno)));
  }
  const std::streamoff log_start = FileSize(log_path);
  std::vector<std::string> args = {
      "switchyard-coordinator",
      "--data-dir=" + flags.data_dir,
      "--listen=" + flags.listen,
      "--sync=" + flags.sync,
      absl::StrCat("--lease-seconds=", flags.lease_seconds),
      absl::StrCat("--heartbeat-seconds=", flags.heartbeat_seconds)};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(log_fd);
    execv(flags.binary.c_str(), argv.data());
    std::perror("exec switchyard-coordinator");
    _exit(127);
  }
  close(log_fd);
  if (pid < 0) return absl::UnavailableError("fork failed");
  std::unique_ptr<CoordinatorProcess> process(new CoordinatorProcess());
  process->pid_ = pid;
  const absl::Time deadline = absl::Now() + timeout;
  const std::string prefix = "listening on ";
  while (true) {
    std::string text = ReadFrom(log_path, log_start);
    size_t at = text.find(prefix);
    size_t end = at == std::string::npos ? at : text.find('\n', at);
    if (end != std::string::npos) {
      process->address_ =
          text.substr(at + prefix.size(), end - at - prefix.size());
      break;
    }
    int status = 0;
    const bool exited = waitpid(pid, &status, WNOHANG) == pid;
    if (exited) process->reaped_ = true;
    if (exited || absl::Now() > deadline) {
      return absl::UnavailableError(
          absl::StrCat("switchyard-coordinator did not start (",
                       exited ? "it exited" : "timed out", "); its log ends:\n",
                       Tail(text, 2000)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::StatusOr<std::string> client =
      common::ReadTokenFile(flags.data_dir + "/client.token");
  if (!client.ok()) return client.status();
  absl::StatusOr<std::string> worker =
      common::ReadTokenFile(flags.data_dir + "/worker.token");
  if (!worker.ok()) return worker.status();
  process->client_token_ = *client;
  process->worker_token_ = *worker;
  return process;
}

CoordinatorProcess::~CoordinatorProcess() {
  if (!reaped_) Kill(SIGKILL);
}

int CoordinatorProcess::Kill(int signal) {
  if (reaped_) return 0;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  reaped_ = true;
  return status;
}

int CoordinatorProcess::Stop() {
  if (reaped_) return 0;
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (absl::Now() > deadline) return Kill(SIGKILL);
    absl::SleepFor(absl::Milliseconds(20));
  }
  reaped_ = true;
  return status;
}

int64_t CoordinatorProcess::StatusField(const std::string& name) const {
  std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
  std::string line;
  const std::string prefix = name + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0)
      return std::stoll(line.substr(prefix.size()));
  }
  return -1;
}

// ---------------------------------------------------------------- channels

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address,
                                          ChannelFlags flags) {
  grpc::ChannelArguments arguments;
  if (flags.own_connection)
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (flags.fast_reconnect) {
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  }
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   arguments);
}

void Authorize(grpc::ClientContext* context, const std::string& token) {
  if (token.empty()) return;
  context->AddMetadata(common::kAuthorizationHeader,
                       common::kBearerPrefix + token);
}

// --------------------------------------------------------------- helpers

absl::StatusOr<int64_t> SubmitSeeds(v1::SweepService::Stub* stub,
                                    const std::string& token,
                                    const std::string& name, int64_t jobs,
                                    int priority) {
  v1::SubmitSweepRequest request;
  request.mutable_spec()->set_name(name);
  request.mutable_spec()->set_priority(priority);
  v1::Axis* axis = request.mutable_spec()->add_axes();
  axis->set_key("seed");
  for (int64_t i = 0; i < jobs; ++i) axis->add_values()->set_int_value(i);
  grpc::ClientContext context;
  Authorize(&context, token);
  v1::SubmitSweepResponse response;
  grpc::Status status = stub->SubmitSweep(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("SubmitSweep: ", status.error_message()));
  }
  return response.sweep_id();
}

absl::StatusOr<v1::RegisterWorkerResponse> RegisterCpuWorker(
    v1::WorkerService::Stub* stub, const std::string& token,
    const std::string& name) {
  v1::RegisterWorkerRequest request;
  request.set_name(name);
  request.set_hostname("sim");
  v1::Device* device = request.add_devices();
  device->set_name("cpu");
  device->set_kind("cpu");
  device->set_slots(1);
  grpc::ClientContext context;
  Authorize(&context, token);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  v1::RegisterWorkerResponse response;
  grpc::Status status = stub->RegisterWorker(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(
        static_cast<absl::StatusCode>(status.error_code()),
        absl::StrCat("RegisterWorker: ", status.error_message()));
  }
  return response;
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(q * static_cast<double>(values.size()));
  return values[std::min(values.size() - 1, rank)];
}

double PointValue(int64_t job_id, int64_t step, int metric) {
  // Exact in a double for any job id below 2^53 / 1e7.
  return static_cast<double>(job_id) * 1e7 + static_cast<double>(step) * 100 +
         metric;
}

std::string MetricName(int metric) { return absl::StrCat("m", metric); }

// ------------------------------------------------------------ sim workers

void SimWorkerStats::Add(const SimWorkerStats& other) {
  heartbeats += other.heartbeats;
  heartbeat_ms.insert(heartbeat_ms.end(), other.heartbeat_ms.begin(),
                      other.heartbeat_ms.end());
  claims += other.claims;
  claims_empty += other.claims_empty;
  batches_acked += other.batches_acked;
  points_acked += other.points_acked;
  batches_replayed += other.batches_replayed;
  streams_opened += other.streams_opened;
  jobs_finished += other.jobs_finished;
  attempts_dropped += other.attempts_dropped;
  failed_calls += other.failed_calls;
  for (const auto& [what, n] : other.errors) errors[what] += n;
  if (first_error.empty()) first_error = other.first_error;
}

SimWorkerStats Total(const std::vector<std::unique_ptr<SimWorker>>& workers,
                     int64_t* silent) {
  SimWorkerStats total;
  if (silent != nullptr) *silent = 0;
  for (const auto& worker : workers) {
    SimWorkerStats stats = worker->stats();
    if (silent != nullptr && stats.heartbeats == 0) ++*silent;
    total.Add(stats);
  }
  return total;
}

struct SimWorker::Job {
  v1::Assignment assignment;
  int64_t batches = 0;                  // this job's length
  int64_t produced = 0;                 // batches made so far (= last seq)
  std::deque<v1::MetricBatch> unacked;  // oldest first
  int64_t highest_sent = 0;             // the highest seq ever written
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::MetricBatch, v1::MetricAck>>
      stream;
};

SimWorker::SimWorker(SimWorkerOptions options) : options_(std::move(options)) {}

SimWorker::~SimWorker() {
  Stop();
  Join();
}

void SimWorker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void SimWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
}

void SimWorker::Join() {
  if (thread_.joinable()) thread_.join();
}

SimWorkerStats SimWorker::stats(bool with_latencies) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (with_latencies) return stats_;
  SimWorkerStats copy = stats_;
  copy.heartbeat_ms = {};
  return copy;
}

std::vector<double> SimWorker::TakeHeartbeatLatencies() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(stats_.heartbeat_ms, {});
}

bool SimWorker::Sleep(absl::Time until) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    absl::Duration left = until - absl::Now();
    if (left <= absl::ZeroDuration()) return true;
    wake_.wait_for(
        lock, absl::ToChronoMilliseconds(left) + std::chrono::milliseconds(1));
  }
  return false;
}

void SimWorker::Failed(const char* call, const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.failed_calls;
  ++stats_.errors[absl::StrCat(call, ": ", CodeName(status.error_code()))];
  if (stats_.first_error.empty()) {
    stats_.first_error = absl::StrCat(options_.name, ": ", call, ": ",
                                      CodeName(status.error_code()), ": ",
                                      status.error_message());
  }
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      options_.new_channel_on_unavailable) {
    reconnect_wanted_ = true;
  }
}

void SimWorker::Reconnect() {
  channel_ = NewChannel(options_.address, options_.channel);
  stub_ = v1::WorkerService::NewStub(channel_);
  reconnect_wanted_ = false;
}

bool SimWorker::Register() {
  absl::StatusOr<v1::RegisterWorkerResponse> response =
      RegisterCpuWorker(stub_.get(), options_.token, options_.name);
  if (!response.ok()) {
    Failed("RegisterWorker",
           grpc::Status(static_cast<grpc::StatusCode>(response.status().code()),
                        std::string(response.status().message())));
    return false;
  }
  worker_id_ = response->worker_id();
  heartbeat_interval_ =
      options_.heartbeat_interval > absl::ZeroDuration()
          ? options_.heartbeat_interval
          : absl::Seconds(response->heartbeat_interval_seconds());
  return true;
}

bool SimWorker::Heartbeat(Job* job) {
  v1::HeartbeatRequest request;
  request.set_worker_id(worker_id_);
  if (job != nullptr) *request.add_attempts() = job->assignment.attempt();
  request.set_slots_busy(job != nullptr ? 1 : 0);
  grpc::ClientContext context;
  Authorize(&context, options_.token);
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + options_.call_deadline));
  v1::HeartbeatResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status = stub_->Heartbeat(&context, request, &response);
  const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (!status.ok()) {
    Failed("Heartbeat", status);
    // A coordinator that lost this worker (a new database) wants a new
    // registration.
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) worker_id_ = 0;
    return true;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.heartbeats;
    stats_.heartbeat_ms.push_back(ms);
  }
  // An order about our attempt (cancel or abandon): it is no longer ours to
  // finish. A simulated job has nothing to stop, so both drop it.
  for (const v1::Order& order : response.orders()) {
    if (job != nullptr &&
        order.attempt_id() == job->assignment.attempt().attempt_id()) {
      return false;
    }
  }
  return true;
}

void SimWorker::Claim(std::unique_ptr<Job>* job) {
  v1::ClaimJobRequest request;
  request.set_worker_id(worker_id_);
  request.set_device("cpu");
  grpc::ClientContext context;
  Authorize(&context, options_.token);
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + options_.call_deadline));
  v1::ClaimJobResponse response;
  grpc::Status status = stub_->ClaimJob(&context, request, &response);
  if (!status.ok()) {
    Failed("ClaimJob", status);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) worker_id_ = 0;
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.claims;
  if (!response.has_job()) {
    ++stats_.claims_empty;
    return;
  }
  *job = std::make_unique<Job>();
  (*job)->assignment = response.assignment();
  (*job)->batches =
      stats_.claims - stats_.claims_empty == 1 && options_.first_job_batches > 0
          ? options_.first_job_batches
          : options_.batches_per_job;
}

void SimWorker::CloseStream(Job* job) {
  if (job->stream == nullptr) return;
  job->context->TryCancel();
  (void)job->stream->Finish();
  job->stream.reset();
  job->context.reset();
}

SimWorker::Outcome SimWorker::Flush(Job* job) {
  if (job->unacked.empty()) return Outcome::kOk;
  if (job->stream == nullptr) {
    job->context = std::make_unique<grpc::ClientContext>();
    Authorize(job->context.get(), options_.token);
    job->stream = stub_->ReportMetrics(job->context.get());
    int64_t again = 0;  // batches written on an earlier stream, unacknowledged
    for (const v1::MetricBatch& batch : job->unacked) {
      if (batch.seq() <= job->highest_sent) ++again;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.streams_opened;
    stats_.batches_replayed += again;
  }
  // One batch in flight at a time: write it, then read acknowledgements
  // until one covers it.
  while (!job->unacked.empty()) {
    const v1::MetricBatch& batch = job->unacked.front();
    bool ok = job->stream->Write(batch);
    job->highest_sent = std::max(job->highest_sent, batch.seq());
    v1::MetricAck ack;
    while (ok && (ok = job->stream->Read(&ack)) &&
           ack.acked_seq() < batch.seq()) {
    }
    if (!ok) {
      job->stream->WritesDone();
      grpc::Status status = job->stream->Finish();
      job->stream.reset();
      job->context.reset();
      if (status.ok()) {
        status =
            grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended early");
      }
      Failed("ReportMetrics", status);
      return IsFenced(status) ? Outcome::kFenced : Outcome::kRetry;
    }
    if (options_.observer != nullptr) {
      options_.observer->Acked(job->assignment.job_id(),
                               job->assignment.attempt().attempt_id(), batch);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.batches_acked;
      stats_.points_acked += batch.points_size();
    }
    job->unacked.pop_front();
  }
  return Outcome::kOk;
}

SimWorker::Outcome SimWorker::FinishJob(Job* job) {
  CloseStream(job);
  v1::FinishJobRequest request;
  *request.mutable_attempt() = job->assignment.attempt();
  request.set_outcome(v1::ATTEMPT_OUTCOME_SUCCEEDED);
  request.set_summary_json("{\"summary\":true,\"simulated\":true}");
  grpc::ClientContext context;
  Authorize(&context, options_.token);
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + options_.call_deadline));
  v1::FinishJobResponse response;
  grpc::Status status = stub_->FinishJob(&context, request, &response);
  if (!status.ok()) {
    Failed("FinishJob", status);
    // FAILED_PRECONDITION after a retry may mean the first call committed
    // and only its answer was lost: either way the attempt is over.
    return IsFenced(status) ? Outcome::kFenced : Outcome::kRetry;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.jobs_finished;
  return Outcome::kOk;
}

void SimWorker::Run() {
  Reconnect();
  std::mt19937_64 random(options_.seed);
  auto jitter = [&](absl::Duration d) {
    return d * std::uniform_real_distribution<double>(0, 1)(random);
  };
  std::unique_ptr<Job> job;
  absl::Time next_heartbeat = absl::InfiniteFuture();
  absl::Time next_batch = absl::Now() + jitter(options_.batch_interval);
  absl::Time next_claim = absl::Now();
  absl::Time retry_at =
      absl::InfinitePast();  // a failed flush or finish waits until then
  auto drop_job = [&] {
    CloseStream(job.get());
    job.reset();
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.attempts_dropped;
  };
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_) break;
    }
    if (reconnect_wanted_) {
      if (job != nullptr) CloseStream(job.get());
      Reconnect();
    }
    absl::Time now = absl::Now();
    if (worker_id_ == 0) {
      if (!Register()) {
        if (!Sleep(now + options_.retry_delay)) break;
        continue;
      }
      next_heartbeat = now + jitter(heartbeat_interval_);
    }
    if (now >= next_heartbeat) {
      if (!Heartbeat(job.get())) drop_job();
      next_heartbeat += heartbeat_interval_;
      if (next_heartbeat < now) next_heartbeat = now + heartbeat_interval_;
    }
    if (job == nullptr && now >= next_claim && worker_id_ != 0) {
      Claim(&job);
      next_claim = now + (job == nullptr ? options_.claim_interval
                                         : absl::ZeroDuration());
      if (job != nullptr) next_batch = std::max(next_batch, now);
    }
    if (job != nullptr) {
      while (job->produced < job->batches && now >= next_batch &&
             static_cast<int>(job->unacked.size()) < options_.max_ahead) {
        v1::MetricBatch batch;
        *batch.mutable_attempt() = job->assignment.attempt();
        batch.set_seq(++job->produced);
        const int64_t step = batch.seq();
        const double wall = absl::ToUnixMicros(now) / 1e6;
        for (int m = 0; m < options_.metrics_per_batch; ++m) {
          v1::MetricPoint* point = batch.add_points();
          point->set_name(MetricName(m));
          point->set_step(step);
          point->set_value(PointValue(job->assignment.job_id(), step, m));
          point->set_wall_time(wall);
        }
        job->unacked.push_back(std::move(batch));
        next_batch += options_.batch_interval;
      }
    }
    if (job != nullptr && now >= retry_at) {
      Outcome flushed = Flush(job.get());
      if (flushed == Outcome::kOk && job->produced >= job->batches &&
          job->unacked.empty()) {
        flushed = FinishJob(job.get());
        if (flushed == Outcome::kOk) {
          job.reset();
          next_claim = absl::Now();
        }
      }
      if (flushed == Outcome::kRetry)
        retry_at = absl::Now() + options_.retry_delay;
      // Fenced: the attempt is no longer ours; its batches go with it.
      if (flushed == Outcome::kFenced) {
        drop_job();
        next_claim = absl::Now();
      }
    }
    absl::Time wake = next_heartbeat;
    if (job == nullptr) wake = std::min(wake, next_claim);
    // The next batch, unless the window is full (then an ack or a retry
    // comes first).
    if (job != nullptr && job->produced < job->batches &&
        static_cast<int>(job->unacked.size()) < options_.max_ahead) {
      wake = std::min(wake, next_batch);
    }
    if (job != nullptr && retry_at > absl::Now())
      wake = std::min(wake, retry_at);
    if (worker_id_ == 0) wake = absl::Now();
    if (!Sleep(wake)) break;
  }
  if (job != nullptr) CloseStream(job.get());
}

}  // namespace switchyard::sim
