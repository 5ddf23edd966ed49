// The coordinator's persistent state, behind an interface so that the core is
// free of SQL (server/store/sqlite_store.h is the implementation).
//
// Every method is one atomic transaction: it either happens whole or not at
// all. Writes that are acknowledged to a caller have committed. All methods
// are thread-safe; the implementation serialises writes on one writer and may
// group several callers' writes into one transaction.
//
// Status codes, for every method:
//   NOT_FOUND           a sweep, job, attempt or worker id that does not exist
//   FAILED_PRECONDITION a stale fencing pair (not the job's current running
//                       attempt, or a wrong token), or an illegal state change
//   INVALID_ARGUMENT    a malformed argument the caller should have refused
//   UNAVAILABLE         the database could not be written (disk full, I/O
//                       error, busy past the timeout): retry later; nothing
//                       was changed
//   INTERNAL            a bug or a corrupt database
#ifndef SWITCHYARD_SERVER_CORE_STORE_H_
#define SWITCHYARD_SERVER_CORE_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/job_config.h"
#include "server/core/types.h"

namespace switchyard::server {

struct NewJob {
  int64_t cell_index = 0;
  std::string cell_key;     // unique within the sweep
  std::string config_json;
  std::string program = std::string(config::kBuiltinProgram);  // the config's `program`
};

struct ClaimParams {
  int64_t worker_id = 0;
  std::string device;            // recorded on the attempt
  std::string fencing_token;     // fresh random secret for the new attempt
  absl::Time now;
  absl::Time lease_expires;
};

// One batch of one attempt's points, as received on a metric stream.
struct MetricBatchWrite {
  AttemptRef attempt;
  std::vector<MetricPoint> points;
};

struct MetricQuery {
  int64_t sweep_id = 0;
  std::vector<int64_t> job_ids;   // empty = every job of the sweep
  std::vector<std::string> names; // empty = every name
  // The cursor: only points with step > after_step; unset = every point.
  std::optional<int64_t> after_step;
  // False: the points' wall_time is 0 (for views that do not show it; one
  // column fewer per point read).
  bool wall_time = true;
};

// One series (job, name) that a MetricQuery selects, and how many of its
// points it selects.
struct SeriesCount {
  int64_t job_id = 0;
  std::string name;
  int64_t points = 0;  // points with a value (NaN, stored as NULL, is not counted)
};

// Whose an attempt is.
struct AttemptOwner {
  int64_t job_id = 0;
  int64_t sweep_id = 0;
};

// Write-path figures since the store opened, for the metrics endpoint.
struct StoreStats {
  // Upper bounds (seconds) of the latency buckets, and the number of group
  // commits at or below each (cumulative, as Prometheus wants them).
  std::vector<double> commit_bucket_bounds;
  std::vector<int64_t> commit_bucket_counts;
  int64_t commits = 0;
  double commit_seconds_sum = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Thread-safe; cheap. The default reports nothing.
  virtual StoreStats Stats() const { return {}; }

  // ---- sweeps and jobs
  // Creates the sweep and one pending job per cell. A repeated cell_key is
  // INVALID_ARGUMENT. Returns the new sweep id.
  virtual absl::StatusOr<int64_t> CreateSweep(const SweepRecord& sweep,
                                              const std::vector<NewJob>& jobs) = 0;
  // With counts per job state; finished_at set once every job is terminal.
  virtual absl::StatusOr<SweepRecord> GetSweep(int64_t sweep_id) = 0;
  virtual absl::StatusOr<std::vector<SweepRecord>> ListSweeps() = 0;  // newest first
  // Ordered by cell_index, with final_metrics filled, attempts not.
  virtual absl::StatusOr<std::vector<JobRecord>> ListJobs(int64_t sweep_id,
                                                          std::optional<JobState> state) = 0;
  // With final_metrics and every attempt (ordered by number).
  virtual absl::StatusOr<JobRecord> GetJob(int64_t job_id) = 0;

  // ---- workers
  // Creates a worker row (a restarted daemon registers anew). Returns its id.
  virtual absl::StatusOr<int64_t> RegisterWorker(const WorkerRecord& worker) = 0;
  virtual absl::Status TouchWorker(int64_t worker_id, bool draining, int32_t slots_busy,
                                   absl::Time now) = 0;
  virtual absl::StatusOr<WorkerRecord> GetWorker(int64_t worker_id) = 0;
  // By id; each device with its busy slots (the worker's running attempts on it).
  virtual absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() = 0;
  // Lifts the worker's quarantine and zeroes its count of environment
  // failures. Returns whether it was quarantined. NOT_FOUND for an unknown id.
  virtual absl::StatusOr<bool> UnquarantineWorker(int64_t worker_id) = 0;

  // ---- the job life cycle
  // Picks the oldest pending job (lowest job id) of the highest-priority sweep
  // among the jobs whose program the worker has (WorkerRecord::programs),
  // makes it running and creates its next attempt with the given token and
  // lease, in one transaction; the latest checkpoint of the job, if any, rides
  // along. std::nullopt when nothing is pending. An unknown worker is NOT_FOUND;
  // a quarantined one FAILED_PRECONDITION, naming the cause.
  virtual absl::StatusOr<std::optional<Assignment>> ClaimJob(const ClaimParams& params) = 0;

  // Renews the lease of every listed attempt that is the running attempt of
  // its job with that token and belongs to worker_id, until lease_expires.
  // Returns an order for each listed attempt that must stop: kAbandon for a
  // stale pair, kCancel for a job whose cancel was requested, kStop for a job
  // the sweep's median rule stops (judged here at each new epoch, the
  // decision stamped `now`).
  virtual absl::StatusOr<std::vector<Order>> RenewLeases(int64_t worker_id,
                                                         const std::vector<AttemptRef>& attempts,
                                                         absl::Time lease_expires,
                                                         absl::Time now) = 0;

  // Ends the running attempt `ref` (FAILED_PRECONDITION when stale) with the
  // outcome, applying ApplyAttemptEnd (server/core/state_machine.h) to its job
  // with the sweep's max_attempts and WorkerAfterAttempt to the attempt's
  // worker (which may quarantine it). Returns the job's new state.
  virtual absl::StatusOr<JobState> FinishAttempt(const AttemptRef& ref, AttemptOutcome outcome,
                                                 const std::string& cause,
                                                 const std::string& summary_json,
                                                 absl::Time now) = 0;

  // FinishAttempt, then ClaimJob(next), in one transaction: both or neither.
  // A worker quarantined by this finish (or before) claims nothing: next is
  // std::nullopt, and its next ClaimJob says why.
  struct FinishAndClaimResult {
    JobState state = JobState::kRunning;  // the finished job's new state
    std::optional<Assignment> next;       // std::nullopt: nothing pending
  };
  virtual absl::StatusOr<FinishAndClaimResult> FinishAttemptAndClaim(
      const AttemptRef& ref, AttemptOutcome outcome, const std::string& cause,
      const std::string& summary_json, const ClaimParams& next) = 0;

  // Marks every running attempt whose lease expired before `now` as lost
  // (cause "lease expired") and applies ApplyAttemptEnd. Returns how many.
  virtual absl::StatusOr<int64_t> ExpireLeases(absl::Time now) = 0;

  // Cancels a sweep (job_id 0) or one job (sweep_id 0): pending jobs become
  // cancelled at once; running ones get cancel_requested (an order in their
  // next heartbeat).
  virtual absl::StatusOr<CancelResult> Cancel(int64_t sweep_id, int64_t job_id,
                                              absl::Time now) = 0;

  // Puts the sweep's jobs in the given states (a subset of failed, lost) back
  // to pending with a fresh retry budget. Returns how many.
  virtual absl::StatusOr<int64_t> Retry(int64_t sweep_id, const std::vector<JobState>& states,
                                        absl::Time now) = 0;

  // The job of `ref` when it is its job's running attempt with that token;
  // FAILED_PRECONDITION when stale, NOT_FOUND for an unknown attempt id. A
  // read: used to check the fencing pair before streaming checkpoint bytes.
  virtual absl::StatusOr<int64_t> JobOfRunningAttempt(const AttemptRef& ref) = 0;

  // ---- metrics
  // Validates every batch's fencing pair, then inserts the points with
  // insert-or-ignore on (job, name, step), all in one transaction. Returns
  // one status per batch (in order): OK, or FAILED_PRECONDITION for a stale
  // pair (its points are not written). The call's own status is not OK only
  // when nothing could be written (UNAVAILABLE, INTERNAL).
  virtual absl::StatusOr<std::vector<absl::Status>> AppendMetrics(
      const std::vector<MetricBatchWrite>& batches) = 0;

  // Streams the points ordered by (job_id, name, step), in chunks of at most
  // `chunk` points; `sink` returns false to stop early.
  virtual absl::Status QueryMetrics(
      const MetricQuery& query, size_t chunk,
      const std::function<bool(const std::vector<JobMetricPoint>&)>& sink) = 0;

  // Every series (job, name) the query selects, in the order QueryMetrics
  // streams them, with the number of its points in range that have a value;
  // a series with none in range is listed with 0. A read; the arguments and
  // their errors are those of QueryMetrics. Points appended after this call
  // may be in a later QueryMetrics that the counts do not cover.
  virtual absl::StatusOr<std::vector<SeriesCount>> CountMetrics(const MetricQuery& query) = 0;

  // The job and sweep of the attempt, whatever state it is in. NOT_FOUND for
  // an unknown attempt id. A read.
  virtual absl::StatusOr<AttemptOwner> OwnerOfAttempt(int64_t attempt_id) = 0;

  // ---- checkpoints (metadata; the bytes are files managed by the caller)
  // Records a complete checkpoint file of the attempt `ref` (stale pair:
  // FAILED_PRECONDITION). Returns its id.
  virtual absl::StatusOr<int64_t> AddCheckpoint(const AttemptRef& ref, int64_t step,
                                                int64_t size_bytes, const std::string& sha256,
                                                const std::string& path, absl::Time now) = 0;
  // The checkpoint `checkpoint_id`, readable only by the running attempt `ref`
  // of the same job (stale pair: FAILED_PRECONDITION; another job's
  // checkpoint: PERMISSION_DENIED).
  virtual absl::StatusOr<CheckpointRecord> GetCheckpointFor(const AttemptRef& ref,
                                                            int64_t checkpoint_id) = 0;
  // Every checkpoint of the job, newest first (the highest step, then the
  // highest id: the order PruneCheckpoints keeps). NOT_FOUND for an unknown
  // job. A read.
  virtual absl::StatusOr<std::vector<CheckpointRecord>> ListCheckpoints(int64_t job_id) = 0;
  // Deletes the rows of all but the newest `keep` checkpoints of the job and
  // returns their paths so the caller can delete the files.
  virtual absl::StatusOr<std::vector<std::string>> PruneCheckpoints(int64_t job_id,
                                                                    int keep) = 0;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_CORE_STORE_H_
