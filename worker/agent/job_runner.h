// Runs one attempt of one job, from its claim to its FinishJob: prepares the
// attempt's own folder, downloads the checkpoint to resume from, starts
// switchyard-train there, forwards its JSON lines (metrics to a
// MetricUploader, checkpoints to the coordinator), obeys stop requests, and
// reports how the attempt ended, with the reason and the tail of the
// trainer's stderr.
//
// Ordering rules that keep the results whole:
//   - A checkpoint is uploaded only after every metric line the trainer
//     printed before it is acknowledged, so a stored checkpoint at step N
//     implies stored metrics up to N, and a resumed attempt (which starts
//     after N) leaves no gap.
//   - FinishJob is sent only after every metric batch is acknowledged
//     (afterwards the attempt is over and its batches would be refused).
//
// Stop reasons, weakest first (a stronger one overrides a weaker one):
//   kDrain    SIGTERM: the trainer checkpoints and exits; the checkpoint is
//             uploaded and the attempt handed back as PREEMPTED (no retry
//             budget used). Everything must be done by the drain deadline;
//             a trainer still running at 70% of the time left is killed.
//   kCancel   SIGTERM (SIGKILL after cancel_grace); reported CANCELLED;
//             pending checkpoints are not uploaded.
//   kAbandon  the fencing pair was refused (or the coordinator ordered it):
//             SIGKILL at once, nothing more is sent about this attempt.
//
// Threads: Run() runs on the caller's thread (a slot's), which must stay
// until Run returns (it is the trainer's parent thread for
// PR_SET_PDEATHSIG). The runner owns a checkpoint-shipper thread and the
// uploader's threads while it runs. RequestStop and the accessors may be
// called from any thread.
#ifndef SWITCHYARD_WORKER_AGENT_JOB_RUNNER_H_
#define SWITCHYARD_WORKER_AGENT_JOB_RUNNER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "common/base/clock.h"
#include "worker/agent/attempt_outcome.h"
#include "worker/agent/backoff.h"
#include "worker/agent/coordinator_client.h"
#include "worker/agent/devices.h"
#include "worker/agent/metric_uploader.h"
#include "worker/agent/trainer_launcher.h"

namespace switchyard::worker {

// The file in the attempt's folder whose existence asks the program to stop
// at its next epoch boundary (docs/trainer-protocol.md).
inline constexpr char kStopFileName[] = "stop-at-epoch-end";

struct Slot {
  DeviceInfo device;
  int index = 0;    // 0-based across the worker, for log lines
  int threads = 1;  // --threads for the trainer and the BLAS/OpenMP pools
};

struct JobRunnerOptions {
  std::string trainer_path;        // switchyard-train
  // The programs of the user's own it may run (--program NAME=PATH): name to
  // absolute path. An assignment's program picks one; switchyard-train (and
  // an empty name) is trainer_path.
  std::map<std::string, std::string> programs;
  std::string work_dir;            // the attempt's folder is created inside
  MetricUploaderOptions uploader;  // label, spill_path and on_fenced are set per attempt
  BackoffOptions backoff;          // for checkpoint and FinishJob retries
  uint64_t seed = 1;
  absl::Duration cancel_grace = absl::Seconds(30);  // SIGTERM -> SIGKILL on cancel
  absl::Duration poll = absl::Milliseconds(200);    // how often stop deadlines are checked
  size_t stderr_tail_bytes = 8192;                  // stored with a failed attempt
  bool keep_work_dir = false;                       // for debugging; normally removed
  common::Clock* clock = common::Clock::Real();     // stamps metric points
  // When set, called as the end of the attempt is reported: a ClaimJob
  // request to attach (FinishJobRequest.claim_next), so that the coordinator
  // hands out the slot's next job in the same call, or std::nullopt (the
  // slot drains). Never called when the attempt stopped for a drain.
  std::function<std::optional<v1::ClaimJobRequest>()> claim_next;
};

// How the attempt ended, for the caller's log and for tests.
struct JobResult {
  bool reported = false;   // FinishJob was accepted
  v1::AttemptOutcome outcome = v1::ATTEMPT_OUTCOME_UNSPECIFIED;
  ChargedTo charged_to = ChargedTo::kNobody;  // whose fault the end was (attempt_outcome.h)
  bool abandoned = false;  // stopped because the coordinator took the attempt back
  std::string cause;
  int64_t last_uploaded_checkpoint_step = -1;
  int64_t metric_batches = 0;
  // The job claimed along with the report (options.claim_next), if any; the
  // caller must run it (or hand it back) like a job from ClaimJob.
  std::optional<v1::Assignment> next;
};

// A running attempt's figures for the worker's Prometheus endpoint.
struct JobProgress {
  double samples_per_sec = 0;          // the trainer's latest report; 0 before the first
  int64_t unacked_metric_batches = 0;  // enqueued, not yet acknowledged (memory + spill)
  // Queued for upload; the one being uploaded is no longer counted, and a
  // newer one supersedes the queued ones, so this is 0 or 1 in practice.
  int64_t checkpoints_waiting = 0;
};

class JobRunner {
 public:
  // `client` and `launcher` must outlive the runner.
  JobRunner(v1::Assignment assignment, Slot slot, CoordinatorClient* client,
            TrainerLauncher* launcher, JobRunnerOptions options);
  ~JobRunner();

  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Runs the attempt to its end. Never throws; every failure is reported as
  // the attempt's outcome (ClassifyAttempt decides which, and whom it is
  // charged to), never as the daemon's problem.
  JobResult Run();

  // See the stop reasons above. `deadline` matters for kDrain: by then the
  // attempt must be reported. Thread-safe; may come before Run starts the
  // trainer (it is then not started) or after it ended (no effect).
  void RequestStop(StopReason reason, absl::Time deadline = absl::InfiniteFuture());

  // The sweep's scheduler stops the job (Order.KIND_STOP): creates the
  // attempt's stop file (kStopFileName, named to the program in
  // SWITCHYARD_STOP_FILE), which the program checks at its next epoch
  // boundary, where it checkpoints and exits 4; the attempt is then reported
  // STOPPED. Weaker than every StopReason; idempotent; thread-safe.
  void RequestEpochStop();

  const v1::Assignment& assignment() const { return assignment_; }
  const Slot& slot() const { return slot_; }
  int64_t job_id() const { return assignment_.job_id(); }
  int64_t attempt_id() const { return assignment_.attempt().attempt_id(); }
  StopReason stop_reason() const;
  JobProgress Progress() const;  // thread-safe

 private:
  struct PendingCheckpoint {
    int64_t step = 0;
    std::string staged_path;  // the daemon's own hard link to the trainer's file
    int64_t metrics_seq = 0;  // metric batches to be acknowledged first
  };

  absl::Status PrepareWorkDir();
  // Downloads the assignment's checkpoint into the checkpoint folder.
  absl::Status DownloadCheckpoint();
  // The executable of the assignment's program; "" when this worker has
  // none by that name (the coordinator should not have sent the job).
  std::string ProgramPath() const;
  TrainerSpec MakeSpec(bool resume) const;
  // Starts the trainer, forwards its lines until it exits, and fills
  // facts->launched, exit and trainer_spoke, or early/early_message when it
  // could not start. Returns the tail of its stderr.
  std::string RunTrainer(bool resume, AttemptFacts* facts);
  // Ships the last checkpoint and metrics, then reports the outcome.
  void Report(const Classified& classified, const std::string& early_message,
              const std::string& stderr_tail, absl::Time started, JobResult* result);
  void HandleLine(const std::string& line);
  void EnforceStopDeadlines(TrainerProcess* process);
  void ShipperLoop();
  // Waits for the metric acks up to `seq`, in slices so that a later drain
  // deadline or an abandon is noticed. OK, FAILED_PRECONDITION (fenced),
  // CANCELLED (abandoned) or DEADLINE_EXCEEDED.
  absl::Status WaitForMetrics(int64_t seq);
  // Sends FinishJob, retrying while the coordinator is unreachable.
  // Sets *next to the job claimed along (options_.claim_next), if any.
  absl::Status ReportEnd(v1::AttemptOutcome outcome, const std::string& cause,
                         const std::string& summary, std::optional<v1::Assignment>* next);
  // Sleeps up to `delay`, waking early on an abandon or the drain deadline.
  // False when the runner should give up (abandoned or past the deadline).
  bool SleepUnlessStopped(absl::Duration delay);
  absl::Time Deadline() const;
  bool Abandoned() const;
  // A FAILED_PRECONDITION on a call about this attempt: the fencing token
  // is stale. Logs what was refused and stops with kAbandon.
  void Abandon(const char* what, const absl::Status& status);
  void RemoveOlderTrainerCheckpoints(int64_t step) const;
  std::string Label() const;

  const v1::Assignment assignment_;
  const Slot slot_;
  CoordinatorClient* const client_;
  TrainerLauncher* const launcher_;
  const JobRunnerOptions options_;
  std::string dir_;              // the attempt's folder
  std::string checkpoint_dir_;   // the trainer's --checkpoint-dir

  std::unique_ptr<MetricUploader> uploader_;
  std::string summary_json_;     // runner thread only
  std::string trainer_error_;    // runner thread only: the trainer's error line
  int64_t metric_batches_ = 0;   // runner thread only
  int bad_lines_ = 0;            // runner thread only: stdout lines that were not protocol lines
  std::string first_bad_line_;   // runner thread only: why the first of them was skipped
  std::atomic<double> samples_per_sec_{0};

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  StopReason stop_ = StopReason::kNone;
  absl::Time deadline_ = absl::InfiniteFuture();  // when the attempt must be reported
  absl::Time kill_at_ = absl::InfiniteFuture();   // when a stopping trainer gets SIGKILL
  bool reporting_ = false;  // FinishJob is under way
  bool epoch_stop_ordered_ = false;  // RequestEpochStop created the stop file
  bool terminate_sent_ = false;
  bool kill_sent_ = false;
  // Set when the trainer got SIGKILL because it outlived its stop deadline
  // (not for an abandon), with how long it had been asked to stop.
  bool killed_after_grace_ = false;
  absl::Duration ignored_stop_for_;
  absl::Time stop_requested_at_ = absl::InfiniteFuture();
  TrainerProcess* process_ = nullptr;  // while the trainer runs
  std::deque<PendingCheckpoint> checkpoints_;
  bool shipper_finishing_ = false;     // no more checkpoints will come
  bool shipper_skip_ = false;          // drop what is queued (cancel, abandon)
  int64_t uploaded_step_ = -1;
  std::thread shipper_;
};

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_JOB_RUNNER_H_
