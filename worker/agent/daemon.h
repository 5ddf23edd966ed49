// The worker daemon: registers with the coordinator, heartbeats on a
// background thread, and gives each slot (device x slots-per-device) a
// thread that claims a job, runs it with a JobRunner and claims again.
//
// Threads:
//   - the caller of Run() (main's): registers, starts the others, waits;
//   - one heartbeat thread: renews the leases of the running attempts,
//     delivers the coordinator's orders (cancel, abandon, drain) and
//     re-registers when the coordinator no longer knows this worker;
//   - one thread per slot, which is also the parent thread of that slot's
//     trainer (PR_SET_PDEATHSIG follows the thread);
//   - per running job, the JobRunner's and its MetricUploader's threads.
// Shared state (the slots' runners, draining, worker id) is under mutex_.
//
// Drain (Drain(), from a signal or a coordinator order): slots stop
// claiming; every running job is stopped with StopReason::kDrain and a
// deadline of drain_timeout minus a margin, so that its trainer checkpoints,
// the checkpoint is uploaded and the attempt is handed back as preempted;
// Run() returns once every slot is idle.
#ifndef SWITCHYARD_WORKER_AGENT_DAEMON_H_
#define SWITCHYARD_WORKER_AGENT_DAEMON_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "worker/agent/backoff.h"
#include "worker/agent/coordinator_client.h"
#include "worker/agent/devices.h"
#include "worker/agent/job_runner.h"
#include "worker/agent/trainer_launcher.h"

namespace switchyard::worker {

struct DaemonOptions {
  std::string coordinator;        // HOST:PORT, for log lines
  // Appended to the first "cannot reach the coordinator" line: what to check
  // (a TLS mix-up looks like an unreachable coordinator).
  std::string unreachable_hint;
  std::string name;               // the worker's name
  std::string hostname;
  std::vector<DeviceInfo> devices;
  int slots_per_device = 1;
  int threads_per_slot = 1;
  std::string build_version;
  std::string trainer_version;
  std::string cuda_version;
  absl::Duration drain_timeout = absl::Seconds(60);
  // How long a slot waits before asking again when there was nothing to do;
  // the coordinator's heartbeat interval, clamped to these bounds.
  absl::Duration min_claim_interval = absl::Milliseconds(200);
  absl::Duration max_claim_interval = absl::Seconds(5);
  BackoffOptions backoff;         // reconnects: registration, heartbeats, claims
  uint64_t seed = 1;
  JobRunnerOptions runner;        // trainer_path, work_dir, ...
};

// What the daemon is doing, for its Prometheus endpoint (worker_metrics.h).
struct WorkerStats {
  int64_t worker_id = 0;  // 0 until registered
  bool draining = false;
  bool coordinator_reachable = false;  // the last heartbeat was answered
  int slots = 0;
  int busy_slots = 0;
  double samples_per_sec = 0;          // summed over the running jobs
  int64_t unacked_metric_batches = 0;  // summed over the running jobs
  int64_t checkpoints_waiting = 0;     // summed over the running jobs
  int64_t jobs_claimed = 0;            // since the daemon started
  // Attempts that ended, by how: succeeded, failed, config_error,
  // environment_error, cancelled, preempted, abandoned (the coordinator took the attempt back), unreported.
  std::map<std::string, int64_t> attempts_ended;
};

class WorkerDaemon {
 public:
  // `client` and `launcher` must outlive the daemon.
  WorkerDaemon(DaemonOptions options, CoordinatorClient* client, TrainerLauncher* launcher);
  ~WorkerDaemon();

  WorkerDaemon(const WorkerDaemon&) = delete;
  WorkerDaemon& operator=(const WorkerDaemon&) = delete;

  // Registers (retrying with backoff while the coordinator is unreachable),
  // runs until a drain has finished, and returns OK. A registration the
  // coordinator refuses (UNAUTHENTICATED, INVALID_ARGUMENT, ...) is returned
  // as is. A drain before registration returns OK at once. Call once.
  absl::Status Run();

  // Starts draining; idempotent and thread-safe.
  void Drain();

  bool draining() const;
  int64_t worker_id() const;
  int busy_slots() const;
  WorkerStats Stats() const;  // thread-safe

 private:
  struct SlotState {
    Slot slot;
    std::shared_ptr<JobRunner> runner;  // while a job runs
    std::thread thread;
  };

  absl::Status Register(bool first);
  void HeartbeatLoop();
  void SlotLoop(SlotState* state);
  // Waits up to `delay` or until draining (or the heartbeat stops). False
  // when woken by the drain.
  bool WaitOrDrain(absl::Duration delay, bool heartbeat);
  std::vector<std::shared_ptr<JobRunner>> Runners() const;

  const DaemonOptions options_;
  CoordinatorClient* const client_;
  TrainerLauncher* const launcher_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int64_t worker_id_ = 0;
  absl::Duration lease_ = absl::Seconds(30);
  absl::Duration heartbeat_interval_ = absl::Seconds(5);
  bool draining_ = false;
  absl::Time drain_deadline_ = absl::InfiniteFuture();
  bool stop_heartbeat_ = false;
  bool heartbeat_poke_ = false;  // send the next heartbeat now
  bool coordinator_reachable_ = false;
  int64_t jobs_claimed_ = 0;
  std::map<std::string, int64_t> attempts_ended_;
  std::vector<std::unique_ptr<SlotState>> slots_;
  std::thread heartbeat_;
};

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_DAEMON_H_
