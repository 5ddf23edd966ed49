// The coordinator's application logic: what happens on submit, claim,
// heartbeat, metric report, checkpoint and finish, independent of gRPC and of
// SQL. The gRPC services (server/service) validate and convert, then call
// this; everything here talks to the Store interface and an injected Clock.
//
// Thread safety: every public method may be called from any thread at once.
// The lease reaper runs on a background thread between Start() and Stop().
//
// Status codes: those of Store (see server/core/store.h), plus
//   INVALID_ARGUMENT  a malformed sweep, metric batch or outcome
//   NOT_FOUND         an unknown sweep, job or worker
//   FAILED_PRECONDITION a stale fencing pair
//   DATA_LOSS         a checkpoint whose size or sha256 does not match
//   RESOURCE_EXHAUSTED  a view (QuerySeries, Aggregate) too large for one answer
//   CANCELLED         WaitForProgress or SubscribeMetrics after Stop()
#ifndef SWITCHYARD_SERVER_CORE_COORDINATOR_H_
#define SWITCHYARD_SERVER_CORE_COORDINATOR_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/sweep/grid.h"
#include "server/core/checkpoint_files.h"
#include "server/core/metric_fanout.h"
#include "server/core/store.h"
#include "server/core/types.h"
#include "server/core/views.h"

namespace switchyard::server {

struct CoordinatorOptions {
  absl::Duration lease = absl::Seconds(30);            // an attempt not renewed this long is lost
  absl::Duration heartbeat_interval = absl::Seconds(5);
  absl::Duration reaper_interval = absl::Seconds(1);
  absl::Duration worker_gone_after = absl::Seconds(60);  // for ListWorkers' state
  int checkpoints_kept = 2;                            // per job
  int64_t max_points_per_batch = 100'000;
  int64_t max_metric_name_bytes = 200;
  // Views (issue 15).
  size_t tail_queue_points = 50'000;  // unread points per TailMetrics subscriber
  // Buckets (QuerySeries) or points (Aggregate) in one answer: about 50 MB,
  // under the 64 MiB message limit.
  int64_t max_view_points_per_call = 1'000'000;
  int64_t max_aggregate_points_read = 5'000'000;  // metric points one Aggregate may read
  // An Aggregate over at least this many jobs reads them in two halves at
  // once (the read is most of its time).
  size_t aggregate_split_jobs = 64;
};

// Counters since start, for the metrics endpoint. Monotonic.
struct CoordinatorStats {
  int64_t claims_served = 0;     // claims (ClaimJob, FinishJob claim_next) that handed out a job
  int64_t claims_empty = 0;      // claims with nothing to hand out
  int64_t leases_expired = 0;    // attempts marked lost by the reaper
  int64_t points_ingested = 0;   // metric points in acknowledged batches
  int64_t batches_ingested = 0;
  int64_t checkpoints_stored = 0;
  int64_t sweeps_submitted = 0;
};

struct SubmitResult {
  int64_t sweep_id = 0;       // 0 for a dry run
  int64_t job_count = 0;
  std::vector<std::string> first_configs;  // up to 10
};

// A snapshot for WatchSweep.
struct SweepProgress {
  SweepRecord sweep;
  std::vector<JobRecord> newly_finished;   // ended since the caller's last snapshot
  bool done = false;
};

class Coordinator {
 public:
  // Does not take ownership of store, clock or files; they must outlive this.
  Coordinator(Store* store, common::Clock* clock, CheckpointFiles* files,
              CoordinatorOptions options);
  ~Coordinator();  // stops the reaper

  void Start();  // starts the lease reaper
  void Stop();   // idempotent; wakes every watcher and ends every metric tail

  const CoordinatorOptions& options() const { return options_; }

  // ---- people (SweepService)
  absl::StatusOr<SubmitResult> SubmitSweep(const common::SweepDefinition& sweep, bool dry_run);
  absl::StatusOr<SweepRecord> GetSweep(int64_t sweep_id);
  absl::StatusOr<std::vector<SweepRecord>> ListSweeps();
  absl::StatusOr<std::vector<JobRecord>> ListJobs(int64_t sweep_id, std::optional<JobState> state);
  absl::StatusOr<JobRecord> GetJob(int64_t job_id);
  absl::StatusOr<CancelResult> Cancel(int64_t sweep_id, int64_t job_id);
  absl::StatusOr<int64_t> Retry(int64_t sweep_id, const std::vector<JobState>& states);
  absl::Status QueryMetrics(const MetricQuery& query,
                            const std::function<bool(const std::vector<JobMetricPoint>&)>& sink);
  // Workers with their state ("alive", "quarantined", "draining", "gone").
  absl::StatusOr<std::vector<std::pair<WorkerRecord, std::string>>> ListWorkers();
  // Lets a quarantined worker claim again (Store::UnquarantineWorker) and
  // returns it with its state. NOT_FOUND for an unknown worker; a no-op for
  // a healthy one.
  absl::StatusOr<std::pair<WorkerRecord, std::string>> UnquarantineWorker(int64_t worker_id);

  // ---- views (issue 15, docs/ui.md): no view moves full-resolution data.

  // The series (job, name) of the query, each downsampled to at most
  // max_points buckets (server/core/downsample.h; 0 = 1000): ordered by job
  // id, then name (byte order), every series the query selects, one with
  // no point in range with points 0 and no bucket. With after_step only
  // points with step > after_step count. Reads each series once, after one
  // COUNT per series, holding O(max_points) per series.
  //   INVALID_ARGUMENT  CheckSeriesQuery (views.h), naming the field
  //   NOT_FOUND         an unknown sweep, or a job that is not in it
  //   RESOURCE_EXHAUSTED  the answer would hold more than
  //                     max_view_points_per_call buckets (the sum over series
  //                     of min(points, max_points)); ask for fewer jobs,
  //                     names or points
  absl::StatusOr<std::vector<SeriesResult>> QuerySeries(const SeriesQuery& query);

  // Per group of the sweep's jobs (by the group_by config keys) and per x,
  // the mean, sample sd, n, min and max of the jobs' values of `name`: the
  // shared engine of the CLI's results and figure (common/results/stats.h)
  // on the same jobs, so the numbers are the CLI's. Only succeeded jobs, and
  // with include_stopped stopped and paused ones (results::ResultFilter).
  // x = final: results::GroupFinalMetrics, one point at x = 0 per group.
  // x = step: results::GroupCurves over each job's (step, value) points.
  // x = epoch: the same over (epoch, value), the epoch of a point being the
  // "epoch" metric logged at its step (results::SeriesByEpoch, as `figure
  // --kind curves`). Missing values (NaN) are skipped. max_points > 0 thins
  // each group's points (ThinCurve, views.h), keeping its extreme means.
  //   INVALID_ARGUMENT  CheckAggregateQuery (views.h), naming the field
  //   NOT_FOUND         an unknown sweep
  //   RESOURCE_EXHAUSTED  the included jobs hold more than
  //                     max_aggregate_points_read points of the metric (and
  //                     "epoch"), or the answer more than
  //                     max_view_points_per_call points (set max_points)
  absl::StatusOr<AggregateResult> Aggregate(const AggregateQuery& query);

  // A live tail of the metric points that ReportMetrics acknowledges from
  // now on, for one sweep (0 = every sweep) and some names (empty = all),
  // from memory: no database read per subscriber or per point. The
  // subscription queues at most options().tail_queue_points unread points
  // and drops the oldest (counted) beyond that; it never slows ingestion.
  // A batch sent again by a worker (after a lost acknowledgement) may be
  // seen twice. Next() says kClosed once Stop() was called.
  //   INVALID_ARGUMENT  a negative sweep id, more than kMaxViewNames names, a
  //                     name empty or longer than max_metric_name_bytes
  //   NOT_FOUND         an unknown sweep
  //   CANCELLED         the coordinator is stopping
  absl::StatusOr<std::unique_ptr<MetricSubscription>> SubscribeMetrics(TailFilter filter);

  // Every checkpoint of the job, newest first (the highest step, then the
  // highest id). NOT_FOUND for an unknown job.
  absl::StatusOr<std::vector<CheckpointRecord>> ListCheckpoints(int64_t job_id);

  // Blocks until something about the sweep may have changed or `timeout`
  // passes, then returns a fresh snapshot. `reported` holds the ids of ended
  // jobs the caller has seen; new ones are added. Returns CANCELLED once
  // Stop() was called.
  absl::StatusOr<SweepProgress> WaitForProgress(int64_t sweep_id, absl::Duration timeout,
                                                std::vector<int64_t>* reported);

  // ---- workers (WorkerService)
  absl::StatusOr<int64_t> RegisterWorker(WorkerRecord worker);
  struct HeartbeatResult {
    std::vector<Order> orders;
    bool drain = false;
  };
  absl::StatusOr<HeartbeatResult> Heartbeat(int64_t worker_id,
                                            const std::vector<AttemptRef>& attempts,
                                            bool draining, int32_t slots_busy);
  // FAILED_PRECONDITION, naming the cause, for a quarantined worker.
  absl::StatusOr<std::optional<Assignment>> ClaimJob(int64_t worker_id, const std::string& device);
  // Validates the batches (finite values, steps >= 0, names), then stores them.
  // One status per batch, as Store::AppendMetrics.
  absl::StatusOr<std::vector<absl::Status>> ReportMetrics(
      const std::vector<MetricBatchWrite>& batches);
  absl::StatusOr<JobState> FinishJob(const AttemptRef& ref, AttemptOutcome outcome,
                                     const std::string& cause, const std::string& summary_json);
  // FinishJob, then ClaimJob(worker_id, device), in one transaction: the
  // finish is refused (stale fencing, bad outcome) or both happen. A worker
  // quarantined (by this finish or before) gets no next job, not an error.
  absl::StatusOr<Store::FinishAndClaimResult> FinishJobAndClaim(
      const AttemptRef& ref, AttemptOutcome outcome, const std::string& cause,
      const std::string& summary_json, int64_t worker_id, const std::string& device);

  // Checkpoints: the caller streams the bytes into an upload obtained here.
  // The fencing pair is checked before any byte is written and again when the
  // checkpoint is recorded.
  absl::StatusOr<std::unique_ptr<CheckpointUpload>> BeginCheckpoint(const AttemptRef& ref,
                                                                    int64_t step,
                                                                    int64_t total_bytes,
                                                                    const std::string& sha256);
  absl::StatusOr<int64_t> CommitCheckpoint(const AttemptRef& ref, int64_t step,
                                           std::unique_ptr<CheckpointUpload> upload);
  // Opens the checkpoint for reading by the running attempt `ref`.
  absl::StatusOr<CheckpointRecord> CheckpointFor(const AttemptRef& ref, int64_t checkpoint_id);
  std::string CheckpointPath(const CheckpointRecord& record) const;

  // Runs one pass of the lease reaper now (tests call this with a fake clock).
  absl::StatusOr<int64_t> ExpireLeasesNow();

  CoordinatorStats stats() const;

 private:
  // Aggregate's read of the metric (and, by epoch, of "epoch") for
  // `job_ids`; `read` counts the points read by every part of one
  // Aggregate (RESOURCE_EXHAUSTED past max_aggregate_points_read).
  absl::StatusOr<std::map<int64_t, results::Series>> ReadAggregateSeries(
      const AggregateQuery& query, bool by_epoch, const std::vector<int64_t>& job_ids,
      const std::map<int64_t, const results::JobData*>& jobs, std::atomic<int64_t>* read);
  // A claim for the slot (worker_id, device) now: a fresh fencing token and
  // a lease of options_.lease.
  ClaimParams NewClaim(int64_t worker_id, const std::string& device) const;
  // "gone" (not seen for worker_gone_after), "quarantined", "draining" or
  // "alive".
  std::string WorkerState(const WorkerRecord& worker, absl::Time now) const;
  // Adds a claim that handed out a job (served) or found none to the stats.
  void CountClaim(bool served);
  void ReaperLoop();
  void NotifyChange();
  // Sends the acknowledged batches to the metric tail's subscribers, if any.
  void PublishMetrics(const std::vector<MetricBatchWrite>& batches,
                      const std::vector<absl::Status>& results);
  // The job and sweep of an attempt: from owners_, else the store (once per
  // attempt while it is cached).
  absl::StatusOr<AttemptOwner> OwnerOf(int64_t attempt_id);
  void ForgetOwner(int64_t attempt_id);

  Store* const store_;
  common::Clock* const clock_;
  CheckpointFiles* const files_;
  const CoordinatorOptions options_;

  std::mutex mutex_;                 // guards generation_, stopping_
  std::condition_variable changed_;  // signalled on every state change
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::thread reaper_;

  MetricFanout fanout_;
  // attempt id -> its job and sweep, for the metric tail. Entries go when
  // their attempt finishes; lost attempts' entries when it is full (then it
  // is emptied: a refill costs one read per running attempt).
  static constexpr size_t kMaxCachedOwners = 65'536;
  absl::Mutex owners_mutex_;
  absl::flat_hash_map<int64_t, AttemptOwner> owners_ ABSL_GUARDED_BY(owners_mutex_);

  std::atomic<int64_t> claims_served_{0}, claims_empty_{0}, leases_expired_{0},
      points_ingested_{0}, batches_ingested_{0}, checkpoints_stored_{0}, sweeps_submitted_{0};
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_CORE_COORDINATOR_H_
