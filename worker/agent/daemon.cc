#include "worker/agent/daemon.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/log.h"
#include "common/config/job_config.h"

namespace switchyard::worker {
namespace {

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(d));
}

}  // namespace

WorkerDaemon::WorkerDaemon(DaemonOptions options, CoordinatorClient* client,
                           TrainerLauncher* launcher)
    : options_(std::move(options)), client_(client), launcher_(launcher) {}

WorkerDaemon::~WorkerDaemon() {
  Drain();
  for (auto& state : slots_) {
    if (state->thread.joinable()) state->thread.join();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_heartbeat_ = true;
  }
  changed_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

bool WorkerDaemon::draining() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return draining_;
}

int64_t WorkerDaemon::worker_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return worker_id_;
}

int WorkerDaemon::busy_slots() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int busy = 0;
  for (const auto& state : slots_) busy += state->runner != nullptr ? 1 : 0;
  return busy;
}

WorkerStats WorkerDaemon::Stats() const {
  WorkerStats stats;
  std::vector<std::shared_ptr<JobRunner>> runners;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats.worker_id = worker_id_;
    stats.draining = draining_;
    stats.coordinator_reachable = coordinator_reachable_;
    stats.slots = static_cast<int>(slots_.size());
    stats.jobs_claimed = jobs_claimed_;
    stats.attempts_ended = attempts_ended_;
    for (const auto& state : slots_) {
      if (state->runner != nullptr) runners.push_back(state->runner);
    }
  }
  // Outside mutex_: a runner's Progress takes the runner's own lock.
  stats.busy_slots = static_cast<int>(runners.size());
  for (const auto& runner : runners) {
    JobProgress progress = runner->Progress();
    stats.samples_per_sec += progress.samples_per_sec;
    stats.unacked_metric_batches += progress.unacked_metric_batches;
    stats.checkpoints_waiting += progress.checkpoints_waiting;
  }
  return stats;
}

namespace {

// The label of an ended attempt in WorkerStats::attempts_ended.
std::string AttemptEnding(const JobResult& result) {
  if (result.abandoned) return "abandoned";
  if (!result.reported) return "unreported";
  switch (result.outcome) {
    case v1::ATTEMPT_OUTCOME_SUCCEEDED: return "succeeded";
    case v1::ATTEMPT_OUTCOME_FAILED: return "failed";
    case v1::ATTEMPT_OUTCOME_CANCELLED: return "cancelled";
    case v1::ATTEMPT_OUTCOME_PREEMPTED: return "preempted";
    case v1::ATTEMPT_OUTCOME_CONFIG_ERROR: return "config_error";
    case v1::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR: return "environment_error";
    default: return "unreported";
  }
}

}  // namespace

std::vector<std::shared_ptr<JobRunner>> WorkerDaemon::Runners() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<JobRunner>> runners;
  for (const auto& state : slots_) {
    if (state->runner != nullptr) runners.push_back(state->runner);
  }
  return runners;
}

bool WorkerDaemon::WaitOrDrain(absl::Duration delay, bool heartbeat) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto woken = [&] { return heartbeat ? (stop_heartbeat_ || heartbeat_poke_) : draining_; };
  absl::Time until = absl::Now() + delay;
  while (!woken() && absl::Now() < until) {
    absl::Duration left = std::min(until - absl::Now(), absl::Seconds(1));
    changed_.wait_for(lock, absl::ToChronoMilliseconds(left) + std::chrono::milliseconds(1));
  }
  bool was_woken = woken();
  if (heartbeat) heartbeat_poke_ = false;
  return !was_woken;
}

void WorkerDaemon::Drain() {
  std::vector<std::shared_ptr<JobRunner>> runners;
  absl::Time deadline;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (draining_) return;
    draining_ = true;
    heartbeat_poke_ = true;  // tell the coordinator soon
    // A margin for the last FinishJob calls and the process exit.
    absl::Duration margin = std::min(absl::Seconds(2), options_.drain_timeout * 0.2);
    drain_deadline_ = absl::Now() + options_.drain_timeout - margin;
    deadline = drain_deadline_;
    for (const auto& state : slots_) {
      if (state->runner != nullptr) runners.push_back(state->runner);
    }
  }
  changed_.notify_all();
  SY_LOG(Info) << "draining: " << runners.size() << " running job(s) to hand back within "
               << Seconds(options_.drain_timeout);
  for (const auto& runner : runners) runner->RequestStop(StopReason::kDrain, deadline);
}

absl::Status WorkerDaemon::Register(bool first) {
  v1::RegisterWorkerRequest request;
  request.set_name(options_.name);
  request.set_hostname(options_.hostname);
  request.set_build_version(options_.build_version);
  request.set_trainer_version(options_.trainer_version);
  request.set_cuda_version(options_.cuda_version);
  request.add_programs(std::string(config::kBuiltinProgram));
  for (const auto& [name, path] : options_.runner.programs) request.add_programs(name);
  for (const DeviceInfo& device : options_.devices) {
    v1::Device* d = request.add_devices();
    d->set_name(device.name);
    d->set_kind(device.kind);
    d->set_memory_bytes(device.memory_bytes);
    d->set_slots(options_.slots_per_device);
    d->set_description(device.description);
  }
  Backoff backoff(options_.backoff, options_.seed);
  bool hinted = false;
  while (true) {
    absl::StatusOr<v1::RegisterWorkerResponse> response = client_->RegisterWorker(request);
    if (response.ok()) {
      std::lock_guard<std::mutex> lock(mutex_);
      worker_id_ = response->worker_id();
      if (response->lease_seconds() > 0) lease_ = absl::Seconds(response->lease_seconds());
      if (response->heartbeat_interval_seconds() > 0) {
        heartbeat_interval_ = absl::Seconds(response->heartbeat_interval_seconds());
      }
      // Never let the heartbeat be slower than a third of the lease.
      heartbeat_interval_ = std::min(heartbeat_interval_, lease_ / 3);
      SY_LOG(Info) << (first ? "registered" : "registered again") << " with the coordinator at "
                   << options_.coordinator << " as worker " << worker_id_ << " '"
                   << options_.name << "' (" << options_.devices.size() << " device(s), "
                   << options_.devices.size() * options_.slots_per_device
                   << " slot(s); heartbeat every " << Seconds(heartbeat_interval_)
                   << ", lease " << Seconds(lease_) << ")";
      return absl::OkStatus();
    }
    if (!IsRetryable(response.status())) {
      return absl::Status(response.status().code(),
                          absl::StrCat("the coordinator at ", options_.coordinator,
                                       " refused the registration: ",
                                       response.status().message()));
    }
    absl::Duration delay = backoff.NextDelay();
    SY_LOG(Warning) << "cannot reach the coordinator at " << options_.coordinator << " ("
                    << response.status() << "); retrying in " << Seconds(delay)
                    << (hinted || options_.unreachable_hint.empty()
                            ? std::string()
                            : absl::StrCat(" (", options_.unreachable_hint, ")"));
    hinted = true;
    WaitOrDrain(delay, /*heartbeat=*/!first);
    std::lock_guard<std::mutex> lock(mutex_);
    if (first ? draining_ : stop_heartbeat_) {
      return absl::CancelledError("stopped before the registration succeeded");
    }
  }
}

absl::Status WorkerDaemon::Run() {
  absl::Status registered = Register(/*first=*/true);
  if (!registered.ok()) {
    if (registered.code() == absl::StatusCode::kCancelled && draining()) return absl::OkStatus();
    return registered;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    int index = 0;
    for (const DeviceInfo& device : options_.devices) {
      for (int k = 0; k < options_.slots_per_device; ++k) {
        auto state = std::make_unique<SlotState>();
        state->slot.device = device;
        state->slot.index = index++;
        state->slot.threads = options_.threads_per_slot;
        slots_.push_back(std::move(state));
      }
    }
  }
  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  for (auto& state : slots_) {
    SlotState* raw = state.get();
    state->thread = std::thread([this, raw] { SlotLoop(raw); });
  }
  for (auto& state : slots_) state->thread.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_heartbeat_ = true;
  }
  changed_.notify_all();
  heartbeat_.join();
  SY_LOG(Info) << "drained: no job left running";
  return absl::OkStatus();
}

void WorkerDaemon::HeartbeatLoop() {
  Backoff backoff(options_.backoff, options_.seed + 1);
  bool lost = false;
  while (true) {
    v1::HeartbeatRequest request;
    absl::Duration interval;
    std::vector<std::shared_ptr<JobRunner>> runners = Runners();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_heartbeat_) return;
      request.set_worker_id(worker_id_);
      request.set_draining(draining_);
      interval = heartbeat_interval_;
    }
    int busy = 0;
    for (const auto& runner : runners) {
      ++busy;
      if (runner->stop_reason() == StopReason::kAbandon) continue;
      *request.add_attempts() = runner->assignment().attempt();
    }
    request.set_slots_busy(busy);

    absl::Duration wait = interval;
    absl::StatusOr<v1::HeartbeatResponse> response = client_->Heartbeat(request);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      coordinator_reachable_ = response.ok();
    }
    if (response.ok()) {
      if (lost) {
        SY_LOG(Info) << "reconnected to the coordinator at " << options_.coordinator;
      }
      lost = false;
      backoff.Reset();
      for (const v1::Order& order : response->orders()) {
        for (const auto& runner : runners) {
          if (runner->attempt_id() != order.attempt_id()) continue;
          if (order.kind() == v1::Order::KIND_CANCEL) {
            if (runner->stop_reason() != StopReason::kCancel) {
              SY_LOG(Info) << "job " << runner->job_id() << ": cancel ordered; stopping its trainer";
            }
            runner->RequestStop(StopReason::kCancel);
          } else if (order.kind() == v1::Order::KIND_ABANDON) {
            SY_LOG(Warning) << "job " << runner->job_id()
                            << ": the coordinator says the attempt is no longer ours; "
                               "stopping it at once";
            runner->RequestStop(StopReason::kAbandon);
          } else if (order.kind() == v1::Order::KIND_STOP) {
            runner->RequestEpochStop();
          }
        }
      }
      if (response->drain() && !draining()) {
        SY_LOG(Info) << "the coordinator asked this worker to drain";
        Drain();
      }
    } else if (response.status().code() == absl::StatusCode::kNotFound) {
      // The coordinator's database does not know this worker (a new one):
      // register again; the running attempts will be refused and stopped.
      SY_LOG(Warning) << "the coordinator does not know worker " << request.worker_id() << " ("
                      << response.status().message() << "); registering again";
      absl::Status registered = Register(/*first=*/false);
      if (registered.code() == absl::StatusCode::kCancelled) return;
      if (!registered.ok()) {
        SY_LOG(Error) << registered.message();
      }
      wait = registered.ok() ? absl::ZeroDuration() : interval;
    } else {
      absl::Duration delay = std::min(backoff.NextDelay(), interval);
      SY_LOG(Warning) << (lost ? "still no answer from" : "lost connection to")
                      << " the coordinator at " << options_.coordinator << " ("
                      << response.status() << "); retrying in " << Seconds(delay);
      lost = true;
      wait = delay;
    }
    WaitOrDrain(wait, /*heartbeat=*/true);
  }
}

void WorkerDaemon::SlotLoop(SlotState* state) {
  const Slot& slot = state->slot;
  Backoff backoff(options_.backoff, options_.seed + 100 + static_cast<uint64_t>(slot.index));
  std::mt19937_64 rng(options_.seed + 200 + static_cast<uint64_t>(slot.index));
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  bool failing = false;
  // A job claimed along with the previous one's report (FinishJob's
  // claim_next): run it even when a drain began meanwhile, which hands it
  // straight back below.
  std::optional<v1::Assignment> next;
  while (next.has_value() || !draining()) {
    v1::ClaimJobRequest request;
    absl::Duration claim_interval;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      request.set_worker_id(worker_id_);
      claim_interval = std::clamp(heartbeat_interval_, options_.min_claim_interval,
                                  options_.max_claim_interval);
    }
    request.set_device(slot.device.name);
    absl::StatusOr<v1::ClaimJobResponse> response;
    if (next.has_value()) {
      response = v1::ClaimJobResponse();
      response->set_has_job(true);
      *response->mutable_assignment() = *std::move(next);
      next.reset();
    } else {
      response = client_->ClaimJob(request);
    }
    if (!response.ok()) {
      absl::Duration delay = backoff.NextDelay();
      // The heartbeat thread reports outages; one line per slot is enough.
      if (!failing && absl::IsFailedPrecondition(response.status())) {
        // Quarantined: the coordinator counted too many environment errors
        // here in a row. It says why; a restart or an operator clears it.
        SY_LOG(Error) << "slot " << slot.index << " (" << slot.device.name
                      << "): the coordinator gives this worker no jobs: "
                      << response.status().message() << "; asking again now and then";
      } else if (!failing) {
        SY_LOG(Warning) << "slot " << slot.index << " (" << slot.device.name
                        << "): cannot claim a job (" << response.status() << "); retrying in "
                        << Seconds(delay);
      }
      failing = true;
      WaitOrDrain(delay, /*heartbeat=*/false);
      continue;
    }
    failing = false;
    backoff.Reset();
    if (!response->has_job()) {
      WaitOrDrain(claim_interval * jitter(rng), /*heartbeat=*/false);
      continue;
    }
    const v1::Assignment& assignment = response->assignment();
    JobRunnerOptions runner_options = options_.runner;
    runner_options.seed = options_.seed ^ static_cast<uint64_t>(assignment.attempt().attempt_id());
    // Built when the report goes out: the worker id may have changed (a
    // re-registration) and a drain may have begun since this claim.
    runner_options.claim_next = [this, device = slot.device.name]()
        -> std::optional<v1::ClaimJobRequest> {
      std::lock_guard<std::mutex> lock(mutex_);
      if (draining_) return std::nullopt;
      v1::ClaimJobRequest claim;
      claim.set_worker_id(worker_id_);
      claim.set_device(device);
      return claim;
    };
    auto runner = std::make_shared<JobRunner>(assignment, slot, client_, launcher_, runner_options);
    SY_LOG(Info) << "claimed job " << assignment.job_id() << " of sweep " << assignment.sweep_id()
                 << " on " << slot.device.name << " (attempt " << assignment.attempt_number()
                 << ", slot " << slot.index
                 << (assignment.checkpoint_id() != 0
                         ? absl::StrCat(", checkpoint at step ", assignment.checkpoint_step())
                         : std::string())
                 << ")";
    {
      std::lock_guard<std::mutex> lock(mutex_);
      state->runner = runner;
      ++jobs_claimed_;
      // Claimed while the drain began: hand it straight back.
      if (draining_) runner->RequestStop(StopReason::kDrain, drain_deadline_);
    }
    JobResult result = runner->Run();
    next = std::move(result.next);
    std::lock_guard<std::mutex> lock(mutex_);
    state->runner.reset();
    ++attempts_ended_[AttemptEnding(result)];
  }
}

}  // namespace switchyard::worker
