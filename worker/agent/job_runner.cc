#include "worker/agent/job_runner.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/base/log.h"
#include "common/config/job_config.h"
#include "worker/agent/trainer_output.h"

namespace switchyard::worker {
namespace {

namespace fs = std::filesystem;

// The coordinator takes at most 64 KiB of cause.
constexpr size_t kMaxCauseBytes = 60 * 1024;

std::string LastNonEmptyLine(std::string_view text) {
  while (!text.empty()) {
    size_t start = text.find_last_of('\n', text.size() - 1);
    std::string_view line = start == std::string_view::npos ? text : text.substr(start + 1);
    while (!line.empty() && absl::ascii_isspace(static_cast<unsigned char>(line.front()))) {
      line.remove_prefix(1);
    }
    while (!line.empty() && absl::ascii_isspace(static_cast<unsigned char>(line.back()))) {
      line.remove_suffix(1);
    }
    if (!line.empty()) return std::string(line.substr(0, 500));
    if (start == std::string_view::npos) break;
    text = text.substr(0, start);
  }
  return "";
}

// "<reason>: <the trainer's error, else its last words>", the notes on
// their own line, and then the stderr tail, so that the first line of the cause alone says what went
// wrong.
std::string FormatCause(const std::string& reason, const std::string& trainer_error,
                        const std::string& stderr_tail, const std::string& notes) {
  std::string cause = reason;
  std::string last = trainer_error.empty() ? LastNonEmptyLine(stderr_tail) : trainer_error;
  if (!last.empty()) absl::StrAppend(&cause, ": ", last.substr(0, 2000));
  if (!notes.empty()) absl::StrAppend(&cause, "\n", notes);
  if (!stderr_tail.empty()) {
    absl::StrAppend(&cause, "\n--- last lines of the trainer's stderr ---\n", stderr_tail);
  }
  if (cause.size() > kMaxCauseBytes) cause.resize(kMaxCauseBytes);
  return cause;
}

const char* OutcomeWord(v1::AttemptOutcome outcome) {
  switch (outcome) {
    case v1::ATTEMPT_OUTCOME_SUCCEEDED: return "succeeded";
    case v1::ATTEMPT_OUTCOME_FAILED: return "failed";
    case v1::ATTEMPT_OUTCOME_PREEMPTED: return "preempted";
    case v1::ATTEMPT_OUTCOME_CANCELLED: return "cancelled";
    case v1::ATTEMPT_OUTCOME_CONFIG_ERROR: return "failed (bad config)";
    case v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR: return "handed back (worker environment error)";
    default: return "ended";
  }
}

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(d));
}

// The step of a trainer checkpoint file name "ckpt-<step>.pt", or -1.
int64_t CheckpointFileStep(const std::string& name) {
  absl::string_view view = name;
  int64_t step = -1;
  if (!absl::ConsumePrefix(&view, "ckpt-") || !absl::ConsumeSuffix(&view, ".pt") ||
      !absl::SimpleAtoi(view, &step)) {
    return -1;
  }
  return step;
}

}  // namespace

JobRunner::JobRunner(v1::Assignment assignment, Slot slot, CoordinatorClient* client,
                     TrainerLauncher* launcher, JobRunnerOptions options)
    : assignment_(std::move(assignment)),
      slot_(std::move(slot)),
      client_(client),
      launcher_(launcher),
      options_(std::move(options)) {
  dir_ = absl::StrCat(options_.work_dir, "/attempt-", attempt_id());
  checkpoint_dir_ = dir_ + "/checkpoints";
  MetricUploaderOptions uploader = options_.uploader;
  uploader.label = Label();
  uploader.spill_path = dir_ + "/metrics.spill";
  uploader.seed = options_.seed;
  uploader.on_fenced = [this](const absl::Status& status) { Abandon("metric batch", status); };
  // Made here, not in Run: RequestStop may come from the heartbeat thread
  // before Run starts.
  uploader_ = std::make_unique<MetricUploader>(client_, assignment_.attempt(), uploader);
}

JobRunner::~JobRunner() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shipper_skip_ = true;
    shipper_finishing_ = true;
  }
  changed_.notify_all();
  if (shipper_.joinable()) shipper_.join();
  uploader_->Abort();
}

std::string JobRunner::Label() const { return absl::StrCat("job ", job_id()); }

JobProgress JobRunner::Progress() const {
  JobProgress progress;
  progress.samples_per_sec = samples_per_sec_.load();
  progress.unacked_metric_batches = uploader_->last_seq() - uploader_->acked_seq();
  std::lock_guard<std::mutex> lock(mutex_);
  progress.checkpoints_waiting = static_cast<int64_t>(checkpoints_.size());
  return progress;
}

StopReason JobRunner::stop_reason() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stop_;
}

void JobRunner::Abandon(const char* what, const absl::Status& status) {
  if (Abandoned()) return;
  SY_LOG(Warning) << Label() << ": " << what << " refused (" << status
                  << "); stopping the job at once";
  RequestStop(StopReason::kAbandon);
}

absl::Time JobRunner::Deadline() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return deadline_;
}

bool JobRunner::Abandoned() const { return stop_reason() == StopReason::kAbandon; }

void JobRunner::RequestStop(StopReason reason, absl::Time deadline) {
  if (reason == StopReason::kNone) return;
  bool newly_abandoned = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (static_cast<int>(reason) < static_cast<int>(stop_)) return;  // weaker than what holds
    // While FinishJob is under way only a drain's deadline still matters: an
    // abandon or cancel order then crosses the report, whose own answer
    // tells whether the attempt was still ours.
    if (reporting_ && reason != StopReason::kDrain) return;
    newly_abandoned = reason == StopReason::kAbandon && stop_ != StopReason::kAbandon;
    stop_ = reason;
    absl::Time now = absl::Now();
    stop_requested_at_ = std::min(stop_requested_at_, now);
    deadline_ = std::min(deadline_, deadline);
    switch (reason) {
      case StopReason::kDrain:
        // The rest of the time is for the checkpoint upload and FinishJob.
        if (deadline_ != absl::InfiniteFuture()) {
          kill_at_ = std::min(kill_at_, now + (deadline_ - now) * 0.7);
        }
        break;
      case StopReason::kCancel:
        kill_at_ = std::min(kill_at_, now + options_.cancel_grace);
        shipper_skip_ = true;  // a cancelled job is never resumed
        break;
      case StopReason::kAbandon:
        kill_at_ = now;
        shipper_skip_ = true;
        break;
      case StopReason::kNone:
        break;
    }
    if (process_ != nullptr) {
      if (reason == StopReason::kAbandon) {
        if (!kill_sent_) process_->Kill();
        kill_sent_ = true;
      } else if (!terminate_sent_) {
        process_->Terminate();
        terminate_sent_ = true;
      }
    }
  }
  changed_.notify_all();
  if (newly_abandoned) uploader_->Abort();
}

void JobRunner::RequestEpochStop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (epoch_stop_ordered_ || stop_ != StopReason::kNone || reporting_) return;
    epoch_stop_ordered_ = true;
  }
  // Created, never written: its existence is the order.
  std::ofstream file(absl::StrCat(dir_, "/", kStopFileName));
  if (!file) {
    SY_LOG(Warning) << Label() << ": cannot create the stop file in " << dir_
                    << "; the job trains on";
    return;
  }
  SY_LOG(Info) << Label() << ": the sweep's scheduler stops the job; it stops at its next "
                             "epoch boundary";
}

absl::Status JobRunner::PrepareWorkDir() {
  std::error_code error;
  fs::remove_all(dir_, error);  // a leftover of an earlier life of this daemon
  fs::create_directories(checkpoint_dir_, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", checkpoint_dir_, ": ", error.message()));
  }
  std::string config_json = assignment_.config_json();
  if (assignment_.epoch_budget() > 0) {
    // An ASHA rung: the program trains up to the budget and ends as done;
    // the coordinator knows it was a rung. Programs read "epochs" anyway.
    nlohmann::json object = nlohmann::json::parse(config_json, nullptr, false);
    if (!object.is_object()) {
      return absl::InvalidArgumentError("the job's config is not a JSON object");
    }
    object["epochs"] = assignment_.epoch_budget();
    config_json = object.dump();
  }
  std::ofstream config(dir_ + "/config.json", std::ios::trunc);
  config << config_json << "\n";
  config.close();
  if (!config) return absl::UnavailableError(absl::StrCat("cannot write ", dir_, "/config.json"));
  return absl::OkStatus();
}

absl::Status JobRunner::DownloadCheckpoint() {
  // The trainer's --resume takes the newest ckpt-<step>.pt of its folder.
  const std::string path =
      absl::StrCat(checkpoint_dir_, "/ckpt-", assignment_.checkpoint_step(), ".pt");
  Backoff backoff(options_.backoff, options_.seed);
  while (true) {
    absl::StatusOr<DownloadedCheckpoint> got =
        client_->GetCheckpoint(assignment_.attempt(), assignment_.checkpoint_id(), path);
    if (got.ok()) {
      SY_LOG(Info) << Label() << ": resumed from step " << got->step << " (checkpoint "
                   << assignment_.checkpoint_id() << ", " << got->size_bytes << " bytes)";
      return absl::OkStatus();
    }
    if (got.status().code() == absl::StatusCode::kFailedPrecondition) {
      Abandon("checkpoint download", got.status());
      return got.status();
    }
    if (!IsRetryable(got.status()) || backoff.failures() >= 8) return got.status();
    absl::Duration delay = backoff.NextDelay();
    SY_LOG(Warning) << Label() << ": checkpoint download failed (" << got.status()
                    << "); retrying in " << Seconds(delay);
    if (!SleepUnlessStopped(delay)) return absl::CancelledError("stopped");
  }
}

std::string JobRunner::ProgramPath() const {
  const std::string& program = assignment_.program();
  if (program.empty() || program == config::kBuiltinProgram) return options_.trainer_path;
  auto it = options_.programs.find(program);
  return it == options_.programs.end() ? std::string() : it->second;
}

TrainerSpec JobRunner::MakeSpec(bool resume) const {
  TrainerSpec spec;
  spec.program = ProgramPath();
  spec.working_dir = dir_;
  spec.args = {"--config", dir_ + "/config.json", "--checkpoint-dir", checkpoint_dir_};
  if (resume) spec.args.push_back("--resume");
  const std::string threads = absl::StrCat(slot_.threads);
  spec.args.insert(spec.args.end(), {"--threads", threads, "--device",
                                     slot_.device.kind == "cuda" ? "cuda:0" : "cpu"});
  // The slot's GPU is the trainer's only GPU (its cuda:0); a CPU slot sees
  // none, so that nothing lands on a GPU by accident.
  spec.env = {
      {"CUDA_VISIBLE_DEVICES",
       slot_.device.kind == "cuda" ? absl::StrCat(slot_.device.index) : std::string()},
      {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"},
      {"OMP_NUM_THREADS", threads},
      {"MKL_NUM_THREADS", threads},
      {"OPENBLAS_NUM_THREADS", threads},
      {"SWITCHYARD_STOP_FILE", absl::StrCat(dir_, "/", kStopFileName)},
  };
  return spec;
}

void JobRunner::HandleLine(const std::string& line) {
  absl::StatusOr<TrainerEvent> event =
      ParseTrainerLine(line, common::ToUnixSeconds(options_.clock->Now()));
  if (!event.ok()) {
    if (bad_lines_ == 0) first_bad_line_ = std::string(event.status().message());
    if (++bad_lines_ <= 5) {
      SY_LOG(Warning) << Label() << ": " << event.status().message();
    }
    return;
  }
  switch (event->kind) {
    case TrainerEvent::Kind::kMetrics: {
      if (event->points.empty()) return;
      std::string loss;
      for (const v1::MetricPoint& p : event->points) {
        if (p.name() == "loss") loss = absl::StrFormat(" (loss %.4g)", p.value());
        if (p.name() == "samples_per_sec") samples_per_sec_.store(p.value());
      }
      uploader_->Enqueue(std::move(event->points));
      ++metric_batches_;
      SY_LOG(Info) << Label() << ": step " << event->step << loss;
      return;
    }
    case TrainerEvent::Kind::kCheckpoint: {
      std::string source = event->checkpoint_path;
      if (!source.empty() && source[0] != '/') source = dir_ + "/" + source;
      // A link of our own: the trainer may prune its files while the upload
      // waits for the metric acks.
      std::string staged = absl::StrCat(dir_, "/upload-", event->step, ".pt");
      unlink(staged.c_str());
      if (link(source.c_str(), staged.c_str()) != 0) {
        std::error_code error;
        fs::copy_file(source, staged, fs::copy_options::overwrite_existing, error);
        if (error) {
          SY_LOG(Warning) << Label() << ": checkpoint " << source << " cannot be taken ("
                          << error.message() << "); skipped";
          return;
        }
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        checkpoints_.push_back({event->step, staged, uploader_->last_seq()});
      }
      changed_.notify_all();
      return;
    }
    case TrainerEvent::Kind::kSummary:
      summary_json_ = event->json;
      return;
    case TrainerEvent::Kind::kError:
      trainer_error_ = event->error;
      return;
    case TrainerEvent::Kind::kOther:
      SY_LOG(Debug) << Label() << ": trainer says " << event->json;
      return;
  }
}

void JobRunner::EnforceStopDeadlines(TrainerProcess* process) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stop_ == StopReason::kNone || kill_sent_ || absl::Now() < kill_at_) return;
  kill_sent_ = true;
  if (stop_ != StopReason::kAbandon) {
    SY_LOG(Warning) << Label() << ": the trainer did not stop in time; killing it";
    killed_after_grace_ = true;
    ignored_stop_for_ = absl::Now() - stop_requested_at_;
  }
  process->Kill();
}

bool JobRunner::SleepUnlessStopped(absl::Duration delay) {
  std::unique_lock<std::mutex> lock(mutex_);
  absl::Time until = std::min(absl::Now() + delay, deadline_);
  while (stop_ != StopReason::kAbandon && absl::Now() < until) {
    absl::Duration left = std::min(until - absl::Now(), absl::Seconds(1));
    changed_.wait_for(lock, absl::ToChronoMilliseconds(left) + std::chrono::milliseconds(1));
    until = std::min(until, deadline_);
  }
  return stop_ != StopReason::kAbandon && absl::Now() < deadline_;
}

absl::Status JobRunner::WaitForMetrics(int64_t seq) {
  while (true) {
    absl::Time deadline = Deadline();
    absl::Status status =
        uploader_->WaitForAck(seq, std::min(deadline, absl::Now() + options_.poll));
    if (status.code() != absl::StatusCode::kDeadlineExceeded) return status;
    if (Abandoned()) return absl::CancelledError("abandoned");
    if (absl::Now() >= Deadline()) return status;
  }
}

void JobRunner::RemoveOlderTrainerCheckpoints(int64_t step) const {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(checkpoint_dir_, error)) {
    int64_t file_step = CheckpointFileStep(entry.path().filename().string());
    if (file_step >= 0 && file_step < step) {
      std::error_code ignored;
      fs::remove(entry.path(), ignored);
    }
  }
}

void JobRunner::ShipperLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] {
      return !checkpoints_.empty() || shipper_finishing_ || shipper_skip_;
    });
    if (shipper_skip_ || (checkpoints_.empty() && shipper_finishing_)) break;
    // Only the newest checkpoint matters; older queued ones are superseded.
    while (checkpoints_.size() > 1) {
      unlink(checkpoints_.front().staged_path.c_str());
      checkpoints_.pop_front();
    }
    PendingCheckpoint checkpoint = checkpoints_.front();
    checkpoints_.pop_front();
    lock.unlock();

    absl::Status metrics = WaitForMetrics(checkpoint.metrics_seq);
    bool skip;
    {
      std::lock_guard<std::mutex> skip_lock(mutex_);
      skip = shipper_skip_;
    }
    if (skip) {
      // Cancelled or abandoned meanwhile: nobody will resume from it.
    } else if (metrics.code() == absl::StatusCode::kFailedPrecondition) {
      RequestStop(StopReason::kAbandon);
    } else if (metrics.ok()) {
      Backoff backoff(options_.backoff, options_.seed + 7);
      while (true) {
        absl::StatusOr<int64_t> id =
            client_->PutCheckpoint(assignment_.attempt(), checkpoint.step, checkpoint.staged_path);
        if (id.ok()) {
          SY_LOG(Info) << Label() << ": checkpoint at step " << checkpoint.step
                       << " uploaded (id " << *id << ")";
          {
            std::lock_guard<std::mutex> uploaded_lock(mutex_);
            uploaded_step_ = std::max(uploaded_step_, checkpoint.step);
          }
          RemoveOlderTrainerCheckpoints(checkpoint.step);
          break;
        }
        if (id.status().code() == absl::StatusCode::kFailedPrecondition) {
          Abandon("checkpoint upload", id.status());
          break;
        }
        if (!IsRetryable(id.status())) {
          SY_LOG(Warning) << Label() << ": checkpoint at step " << checkpoint.step
                          << " not uploaded: " << id.status();
          break;
        }
        absl::Duration delay = backoff.NextDelay();
        SY_LOG(Warning) << Label() << ": checkpoint upload failed (" << id.status()
                        << "); retrying in " << Seconds(delay);
        if (!SleepUnlessStopped(delay)) break;
      }
    } else if (!Abandoned()) {
      SY_LOG(Warning) << Label() << ": checkpoint at step " << checkpoint.step
                      << " not uploaded: " << metrics;
    }
    unlink(checkpoint.staged_path.c_str());
    lock.lock();
  }
  for (const PendingCheckpoint& left : checkpoints_) unlink(left.staged_path.c_str());
  checkpoints_.clear();
}

absl::Status JobRunner::ReportEnd(v1::AttemptOutcome outcome, const std::string& cause,
                                  const std::string& summary,
                                  std::optional<v1::Assignment>* next) {
  v1::FinishJobRequest request;
  *request.mutable_attempt() = assignment_.attempt();
  request.set_outcome(outcome);
  request.set_cause(cause);
  request.set_summary_json(summary);
  // A slot that drains takes no new job.
  if (options_.claim_next && stop_reason() != StopReason::kDrain) {
    if (std::optional<v1::ClaimJobRequest> claim = options_.claim_next(); claim.has_value()) {
      *request.mutable_claim_next() = *std::move(claim);
    }
  }
  Backoff backoff(options_.backoff, options_.seed + 13);
  while (true) {
    absl::StatusOr<v1::FinishJobResponse> response = client_->FinishJob(request);
    if (response.ok()) {
      if (response->next().has_job()) *next = response->next().assignment();
      return absl::OkStatus();
    }
    // The claim can fail where the report alone would not (a coordinator
    // that no longer knows this worker id): report without it.
    if (request.has_claim_next() &&
        (response.status().code() == absl::StatusCode::kNotFound ||
         response.status().code() == absl::StatusCode::kInvalidArgument)) {
      SY_LOG(Warning) << Label() << ": reporting without claiming the next job ("
                      << response.status() << ")";
      request.clear_claim_next();
      continue;
    }
    if (response.status().code() == absl::StatusCode::kFailedPrecondition) {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = StopReason::kAbandon;
      return response.status();
    }
    if (!IsRetryable(response.status())) return response.status();
    absl::Duration delay = backoff.NextDelay();
    SY_LOG(Warning) << Label() << ": cannot report the end of the attempt ("
                    << response.status() << "); retrying in " << Seconds(delay);
    if (!SleepUnlessStopped(delay)) {
      return absl::DeadlineExceededError(
          absl::StrCat("gave up reporting: ", response.status().message()));
    }
  }
}

JobResult JobRunner::Run() {
  const absl::Time started = absl::Now();
  JobResult result;
  AttemptFacts facts;
  if (absl::Status s = PrepareWorkDir(); !s.ok()) {
    facts.early = EarlyFailure::kWorkDir;
    facts.early_message = std::string(s.message());
  }
  uploader_->Start();
  shipper_ = std::thread([this] { ShipperLoop(); });

  bool resume = false;
  if (facts.early == EarlyFailure::kNone && assignment_.checkpoint_id() != 0 && !Abandoned()) {
    absl::Status s = DownloadCheckpoint();
    if (s.ok()) {
      resume = true;
    } else if (!Abandoned() && stop_reason() == StopReason::kNone) {
      facts.early = EarlyFailure::kCheckpoint;
      facts.early_message = absl::StrCat("cannot download checkpoint ",
                                         assignment_.checkpoint_id(), ": ", s.message());
    }
  }

  std::string stderr_tail;
  if (facts.early == EarlyFailure::kNone && stop_reason() == StopReason::kNone) {
    stderr_tail = RunTrainer(resume, &facts);
  }
  facts.stop = stop_reason();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    facts.epoch_stop_ordered = epoch_stop_ordered_;
  }
  const Classified classified = ClassifyAttempt(facts);
  Report(classified, facts.early_message, stderr_tail, started, &result);
  if (Abandoned()) {
    result.abandoned = true;
    result.reported = false;
    SY_LOG(Warning) << Label() << ": stopped: the coordinator took the attempt back "
                    << "(stale fencing token or lost lease); nothing more is reported";
  }
  if (!options_.keep_work_dir) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  return result;
}

std::string JobRunner::RunTrainer(bool resume, AttemptFacts* facts) {
  if (ProgramPath().empty()) {
    // The coordinator matches programs at claim; a mismatch is this
    // worker's problem (it registered a program it does not have), not the job's.
    facts->early = EarlyFailure::kLaunch;
    facts->early_message = absl::StrCat("this worker has no program '", assignment_.program(),
                                        "' (start it with --program ", assignment_.program(),
                                        "=PATH)");
    return "";
  }
  absl::StatusOr<std::unique_ptr<TrainerProcess>> process = launcher_->Launch(MakeSpec(resume));
  if (!process.ok()) {
    facts->early = EarlyFailure::kLaunch;
    facts->early_message =
        absl::StrCat("cannot start ",
                     assignment_.program().empty() ? std::string("the trainer")
                                                   : absl::StrCat("program ", assignment_.program()),
                     ": ", process.status().message());
    return "";
  }
  facts->launched = true;
  {
    // A stop that came while the trainer was starting is delivered now.
    std::lock_guard<std::mutex> lock(mutex_);
    process_ = process->get();
    if (stop_ == StopReason::kAbandon) {
      process_->Kill();
      kill_sent_ = true;
    } else if (stop_ != StopReason::kNone) {
      process_->Terminate();
      terminate_sent_ = true;
    }
  }
  SY_LOG(Debug) << Label() << ": trainer started on " << slot_.device.name << " with "
                << slot_.threads << " thread(s)" << (resume ? ", resuming" : "");
  std::string line;
  while (true) {
    TrainerProcess::ReadResult r = (*process)->ReadLine(options_.poll, &line);
    if (r == TrainerProcess::ReadResult::kEof) break;
    if (r == TrainerProcess::ReadResult::kLine) {
      facts->trainer_spoke = true;
      if (!Abandoned()) HandleLine(line);
    }
    EnforceStopDeadlines(process->get());
  }
  while (true) {
    std::optional<ExitInfo> ended = (*process)->Wait(options_.poll);
    if (ended.has_value()) {
      facts->exit = *ended;
      break;
    }
    EnforceStopDeadlines(process->get());
  }
  std::string stderr_tail = (*process)->StderrTail(options_.stderr_tail_bytes);
  if (!stderr_tail.empty()) facts->trainer_spoke = true;
  std::lock_guard<std::mutex> lock(mutex_);
  process_ = nullptr;
  return stderr_tail;
}

void JobRunner::Report(const Classified& classified, const std::string& early_message,
                       const std::string& stderr_tail, absl::Time started, JobResult* result) {
  const v1::AttemptOutcome outcome = classified.outcome;
  // Checkpoints first (they wait for their metrics), then the rest of the
  // metrics, then the report.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shipper_finishing_ = true;
    if (outcome == v1::ATTEMPT_OUTCOME_CANCELLED) shipper_skip_ = true;  // no future to resume
  }
  changed_.notify_all();
  shipper_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    result->last_uploaded_checkpoint_step = uploaded_step_;
  }
  result->metric_batches = metric_batches_;

  if (!Abandoned()) {
    absl::Status metrics = WaitForMetrics(uploader_->last_seq());
    if (metrics.ok()) {
      metrics = uploader_->Close(absl::Now() + absl::Seconds(5));
    } else if (metrics.code() == absl::StatusCode::kDeadlineExceeded) {
      SY_LOG(Warning) << Label() << ": " << (uploader_->last_seq() - uploader_->acked_seq())
                      << " metric batch(es) not acknowledged before the drain deadline";
    }
    if (metrics.code() == absl::StatusCode::kFailedPrecondition) {
      RequestStop(StopReason::kAbandon);
    }
    if (uploader_->dropped_batches() > 0) {
      SY_LOG(Warning) << Label() << ": " << uploader_->dropped_batches()
                      << " metric batch(es) were refused as malformed and dropped";
    }
  }
  uploader_->Abort();  // no-op after a clean Close
  if (Abandoned()) return;

  {
    std::lock_guard<std::mutex> lock(mutex_);
    reporting_ = true;
  }
  const bool succeeded = outcome == v1::ATTEMPT_OUTCOME_SUCCEEDED;
  // What the program did against the protocol, whatever the outcome: said
  // in the cause so that `why` shows it, not only in this worker's log.
  std::string notes;
  if (bad_lines_ > 0) {
    notes = absl::StrCat(bad_lines_,
                         bad_lines_ == 1 ? " stdout line was not a protocol line"
                                         : " stdout lines were not protocol lines",
                         " and skipped (the first: ", first_bad_line_, ")");
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (killed_after_grace_) {
      absl::StrAppend(&notes, notes.empty() ? "" : "; ", "it did not exit within ",
                      Seconds(ignored_stop_for_), " of SIGTERM and was killed");
    }
  }
  // An early failure's message is its whole reason; else the trainer's
  // error line (or its last words) follow the reason.
  std::string cause = succeeded ? notes
                                : FormatCause(classified.reason,
                                              early_message.empty() ? trainer_error_ : "",
                                              stderr_tail, notes);
  absl::Status reported =
      ReportEnd(outcome, cause, succeeded ? summary_json_ : "", &result->next);
  result->outcome = outcome;
  result->charged_to = classified.charged_to;
  result->cause = cause;
  result->reported = reported.ok();
  const std::string took = Seconds(absl::Now() - started);
  if (reported.ok()) {
    std::string detail;
    if (outcome == v1::ATTEMPT_OUTCOME_PREEMPTED && result->last_uploaded_checkpoint_step >= 0) {
      detail = absl::StrCat(", handed back with its checkpoint at step ",
                            result->last_uploaded_checkpoint_step);
    } else if (!classified.reason.empty()) {
      // The cause's first line: the reason and the trainer's own words.
      detail = absl::StrCat(": ", cause.substr(0, cause.find('\n')));
    }
    SY_LOG(Info) << Label() << ": finished: " << OutcomeWord(outcome) << " after " << took
                 << detail;
  } else if (!Abandoned()) {
    SY_LOG(Error) << Label() << ": " << OutcomeWord(outcome) << " after " << took
                  << ", but the coordinator was not told: " << reported;
  }
}

}  // namespace switchyard::worker
