#include "tests/worker/agent/fakes.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace switchyard::worker::testing {

// ------------------------------------------------------------ FakeCoordinator

// One ReportMetrics call. Like gRPC: writes succeed while the call lives;
// acks written before the end are all read before Read returns false.
class FakeCoordinator::Stream : public MetricStream {
 public:
  explicit Stream(FakeCoordinator* owner) : owner_(owner) {}
  ~Stream() override {
    std::lock_guard<std::mutex> lock(owner_->mutex_);
    std::erase(owner_->open_streams_, this);
  }

  bool Write(const v1::MetricBatch& batch) override {
    std::lock_guard<std::mutex> lock(owner_->mutex_);
    if (ended_) return false;
    owner_->written_.push_back(batch.seq());
    absl::Status status = owner_->policy_ ? owner_->policy_(batch) : absl::OkStatus();
    if (status.ok()) {
      owner_->stored_.emplace(batch.seq(), batch);
      if (!owner_->should_ack_ || owner_->should_ack_(batch.seq())) {
        v1::MetricAck ack;
        ack.set_attempt_id(batch.attempt().attempt_id());
        ack.set_acked_seq(batch.seq());
        acks_.push_back(ack);
      }
    } else {
      EndLocked(status, /*keep_acks=*/true);
    }
    owner_->changed_.notify_all();
    return true;
  }

  bool Read(v1::MetricAck* ack) override {
    std::unique_lock<std::mutex> lock(owner_->mutex_);
    owner_->changed_.wait(lock, [&] { return !acks_.empty() || ended_; });
    if (acks_.empty()) return false;
    *ack = acks_.front();
    acks_.pop_front();
    return true;
  }

  void WritesDone() override {
    std::lock_guard<std::mutex> lock(owner_->mutex_);
    if (!ended_) EndLocked(absl::OkStatus(), /*keep_acks=*/true);
    owner_->changed_.notify_all();
  }

  absl::Status Finish() override {
    std::lock_guard<std::mutex> lock(owner_->mutex_);
    return final_;
  }

  void Cancel() override {
    std::lock_guard<std::mutex> lock(owner_->mutex_);
    if (!ended_) EndLocked(absl::CancelledError("cancelled by the client"), /*keep_acks=*/false);
    owner_->changed_.notify_all();
  }

  // owner_->mutex_ held.
  void EndLocked(absl::Status status, bool keep_acks) {
    ended_ = true;
    final_ = std::move(status);
    if (!keep_acks) acks_.clear();
  }

 private:
  FakeCoordinator* const owner_;
  std::deque<v1::MetricAck> acks_;
  bool ended_ = false;
  absl::Status final_;
};

FakeCoordinator::FakeCoordinator() = default;
FakeCoordinator::~FakeCoordinator() = default;

absl::StatusOr<v1::RegisterWorkerResponse> FakeCoordinator::RegisterWorker(
    const v1::RegisterWorkerRequest& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  registrations_.push_back(request);
  changed_.notify_all();
  if (!register_results_.empty()) {
    absl::StatusOr<v1::RegisterWorkerResponse> result = register_results_.front();
    register_results_.pop_front();
    return result;
  }
  v1::RegisterWorkerResponse response;
  response.set_worker_id(7);
  response.set_lease_seconds(3);
  response.set_heartbeat_interval_seconds(0.05);
  return response;
}

absl::StatusOr<v1::HeartbeatResponse> FakeCoordinator::Heartbeat(
    const v1::HeartbeatRequest& request) {
  std::function<absl::StatusOr<v1::HeartbeatResponse>(const v1::HeartbeatRequest&)> handler;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    heartbeats_.push_back(request);
    handler = heartbeat_;
    changed_.notify_all();
  }
  if (handler) return handler(request);
  return v1::HeartbeatResponse();
}

absl::StatusOr<v1::ClaimJobResponse> FakeCoordinator::ClaimJob(const v1::ClaimJobRequest&) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++claim_calls_;
  changed_.notify_all();
  v1::ClaimJobResponse response;
  if (!claims_.empty()) {
    response.set_has_job(true);
    *response.mutable_assignment() = claims_.front();
    claims_.pop_front();
  }
  return response;
}

absl::StatusOr<v1::FinishJobResponse> FakeCoordinator::FinishJob(
    const v1::FinishJobRequest& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  finishes_.push_back({request, static_cast<int64_t>(stored_.size())});
  changed_.notify_all();
  if (!finish_status_.ok()) return finish_status_;
  if (request.has_claim_next() && !claim_next_status_.ok()) return claim_next_status_;
  v1::FinishJobResponse response;
  response.set_job_state(v1::JOB_STATE_SUCCEEDED);
  // As the coordinator: claim_next takes the next scripted claim.
  if (request.has_claim_next()) {
    v1::ClaimJobResponse* next = response.mutable_next();
    if (!claims_.empty()) {
      next->set_has_job(true);
      *next->mutable_assignment() = claims_.front();
      claims_.pop_front();
    }
  }
  return response;
}

absl::StatusOr<std::unique_ptr<MetricStream>> FakeCoordinator::OpenMetricStream() {
  std::lock_guard<std::mutex> lock(mutex_);
  changed_.notify_all();
  if (!open_status_.ok()) return open_status_;
  ++streams_opened_;
  auto stream = std::make_unique<Stream>(this);
  open_streams_.push_back(stream.get());
  return std::unique_ptr<MetricStream>(std::move(stream));
}

absl::StatusOr<int64_t> FakeCoordinator::PutCheckpoint(const v1::AttemptRef& ref, int64_t step,
                                                       const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("checkpoint file ", path, ": cannot read it"));
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::lock_guard<std::mutex> lock(mutex_);
  changed_.notify_all();
  if (!put_status_.ok()) return put_status_;
  puts_.push_back({ref, step, bytes.str(), static_cast<int64_t>(stored_.size())});
  return static_cast<int64_t>(puts_.size());
}

absl::StatusOr<DownloadedCheckpoint> FakeCoordinator::GetCheckpoint(
    const v1::AttemptRef&, int64_t checkpoint_id, const std::string& dest_path) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = checkpoints_.find(checkpoint_id);
  if (found == checkpoints_.end()) return absl::NotFoundError("no such checkpoint");
  std::ofstream out(dest_path, std::ios::binary);
  out << found->second.second;
  return DownloadedCheckpoint{found->second.first,
                              static_cast<int64_t>(found->second.second.size())};
}

void FakeCoordinator::SetMetricPolicy(MetricPolicy policy) {
  std::lock_guard<std::mutex> lock(mutex_);
  policy_ = std::move(policy);
}
void FakeCoordinator::SetShouldAck(std::function<bool(int64_t)> should_ack) {
  std::lock_guard<std::mutex> lock(mutex_);
  should_ack_ = std::move(should_ack);
}
void FakeCoordinator::SetOpenStatus(absl::Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  open_status_ = std::move(status);
}
void FakeCoordinator::BreakStreams(absl::Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Stream* stream : open_streams_) stream->EndLocked(status, /*keep_acks=*/false);
  changed_.notify_all();
}
void FakeCoordinator::PushRegisterResult(absl::StatusOr<v1::RegisterWorkerResponse> result) {
  std::lock_guard<std::mutex> lock(mutex_);
  register_results_.push_back(std::move(result));
}
void FakeCoordinator::PushClaim(v1::Assignment assignment) {
  std::lock_guard<std::mutex> lock(mutex_);
  claims_.push_back(std::move(assignment));
}
void FakeCoordinator::SetHeartbeatHandler(
    std::function<absl::StatusOr<v1::HeartbeatResponse>(const v1::HeartbeatRequest&)> handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  heartbeat_ = std::move(handler);
}
void FakeCoordinator::SetFinishStatus(absl::Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  finish_status_ = std::move(status);
}
void FakeCoordinator::SetClaimNextStatus(absl::Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  claim_next_status_ = std::move(status);
}
void FakeCoordinator::SetPutCheckpointStatus(absl::Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  put_status_ = std::move(status);
}
void FakeCoordinator::AddCheckpoint(int64_t id, int64_t step, std::string bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  checkpoints_[id] = {step, std::move(bytes)};
}

std::vector<int64_t> FakeCoordinator::written_seqs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return written_;
}
std::map<int64_t, v1::MetricBatch> FakeCoordinator::stored() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stored_;
}
int FakeCoordinator::streams_opened() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return streams_opened_;
}
std::vector<FakeCoordinator::PutCall> FakeCoordinator::puts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return puts_;
}
std::vector<FakeCoordinator::FinishCall> FakeCoordinator::finishes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return finishes_;
}
std::vector<v1::RegisterWorkerRequest> FakeCoordinator::registrations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return registrations_;
}
std::vector<v1::HeartbeatRequest> FakeCoordinator::heartbeats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return heartbeats_;
}
int FakeCoordinator::claims() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return claim_calls_;
}

bool FakeCoordinator::WaitUntil(const std::function<bool()>& pred, absl::Duration timeout) {
  // Polls without the lock: predicates call the observers, which lock.
  absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

void FakeCoordinator::Notify() { changed_.notify_all(); }

// ----------------------------------------------------------------- FakeTrainer

FakeTrainer::FakeTrainer(TrainerSpec spec) : spec_(std::move(spec)) {
  on_terminate_ = [](FakeTrainer* trainer) {
    int64_t step;
    {
      std::lock_guard<std::mutex> lock(trainer->mutex_);
      step = trainer->last_step_ + 1;
    }
    trainer->Checkpoint(step);
    trainer->Exit(4);
  };
}

TrainerProcess::ReadResult FakeTrainer::ReadLine(absl::Duration timeout, std::string* line) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!WaitFor(changed_, lock, timeout, [&] { return !lines_.empty() || stdout_closed_; })) {
    return ReadResult::kTimeout;
  }
  if (lines_.empty()) return ReadResult::kEof;
  *line = lines_.front();
  lines_.pop_front();
  return ReadResult::kLine;
}

void FakeTrainer::Terminate() {
  std::function<void(FakeTrainer*)> handler;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++terminates_;
    if (exit_.has_value()) return;
    handler = on_terminate_;
  }
  changed_.notify_all();
  // Like a real trainer, which reacts on its own thread.
  if (handler) {
    std::thread([self = shared_from_this(), handler] { handler(self.get()); }).detach();
  }
}

void FakeTrainer::Kill() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++kills_;
  }
  Crash(SIGKILL);
}

std::optional<ExitInfo> FakeTrainer::Wait(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  WaitFor(changed_, lock, timeout, [&] { return exit_.has_value(); });
  return exit_;
}

std::string FakeTrainer::StderrTail(size_t max_bytes) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stderr_.size() <= max_bytes ? stderr_ : stderr_.substr(stderr_.size() - max_bytes);
}

void FakeTrainer::Emit(const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stdout_closed_) return;
  lines_.push_back(line);
  // Remember the newest step, for the default SIGTERM checkpoint.
  size_t at = line.find("\"step\":");
  if (at != std::string::npos) last_step_ = std::atoll(line.c_str() + at + 7);
  changed_.notify_all();
}

void FakeTrainer::WriteStderr(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  stderr_ += text;
}

void FakeTrainer::Exit(int code) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (exit_.has_value()) return;
  stdout_closed_ = true;
  ExitInfo info;
  info.code = code;
  exit_ = info;
  changed_.notify_all();
}

void FakeTrainer::Crash(int signal) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (exit_.has_value()) return;
  stdout_closed_ = true;
  lines_.clear();
  ExitInfo info;
  info.signaled = true;
  info.signal = signal;
  exit_ = info;
  changed_.notify_all();
}

void FakeTrainer::SetOnTerminate(std::function<void(FakeTrainer*)> handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  on_terminate_ = std::move(handler);
}

std::string FakeTrainer::checkpoint_dir() const {
  for (size_t i = 0; i + 1 < spec_.args.size(); ++i) {
    if (spec_.args[i] == "--checkpoint-dir") return spec_.args[i + 1];
  }
  return "";
}

void FakeTrainer::Checkpoint(int64_t step, const std::string& bytes) {
  std::string path = absl::StrCat(checkpoint_dir(), "/ckpt-", step, ".pt");
  {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
  }
  Emit(absl::StrCat("{\"checkpoint\":\"", path, "\",\"step\":", step, "}"));
}

int FakeTrainer::terminates() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return terminates_;
}
int FakeTrainer::kills() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return kills_;
}
bool FakeTrainer::exited() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return exit_.has_value();
}

// ---------------------------------------------------------------- FakeLauncher

namespace {

// What the runner owns; the test keeps the trainer alive through its
// shared_ptr as long as it likes.
class Handle : public TrainerProcess {
 public:
  explicit Handle(std::shared_ptr<FakeTrainer> trainer) : trainer_(std::move(trainer)) {}
  ReadResult ReadLine(absl::Duration timeout, std::string* line) override {
    return trainer_->ReadLine(timeout, line);
  }
  void Terminate() override { trainer_->Terminate(); }
  void Kill() override { trainer_->Kill(); }
  std::optional<ExitInfo> Wait(absl::Duration timeout) override { return trainer_->Wait(timeout); }
  std::string StderrTail(size_t max_bytes) const override {
    return trainer_->StderrTail(max_bytes);
  }

 private:
  std::shared_ptr<FakeTrainer> trainer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TrainerProcess>> FakeLauncher::Launch(const TrainerSpec& spec) {
  std::function<void(FakeTrainer*)> on_launch;
  std::shared_ptr<FakeTrainer> trainer;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    specs_.push_back(spec);
    if (!launch_status_.ok()) return launch_status_;
    trainer = std::make_shared<FakeTrainer>(spec);
    on_launch = on_launch_;
  }
  if (on_launch) on_launch(trainer.get());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    launched_.push_back(trainer);
  }
  changed_.notify_all();
  return std::unique_ptr<TrainerProcess>(std::make_unique<Handle>(trainer));
}

void FakeLauncher::SetLaunchStatus(absl::Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  launch_status_ = std::move(status);
}

void FakeLauncher::SetOnLaunch(std::function<void(FakeTrainer*)> on_launch) {
  std::lock_guard<std::mutex> lock(mutex_);
  on_launch_ = std::move(on_launch);
}

std::shared_ptr<FakeTrainer> FakeLauncher::WaitForProcess(size_t n, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!WaitFor(changed_, lock, timeout, [&] { return launched_.size() > n; })) return nullptr;
  return launched_[n];
}

size_t FakeLauncher::launches() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return launched_.size();
}

std::vector<TrainerSpec> FakeLauncher::specs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return specs_;
}

}  // namespace switchyard::worker::testing
