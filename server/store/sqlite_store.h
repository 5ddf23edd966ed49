// SqliteStore: the Store (server/core/store.h) kept in one SQLite file.
//
// Owns one writable connection, used only by its writer thread (GroupWriter:
// group commit, one SAVEPOINT per write), and a pool of read-only connections
// that WAL lets run alongside the writer. Every Store method is one atomic
// transaction; a write is acknowledged only after its group has committed.
// The job policy is not here: writes apply ApplyAttemptEnd / CheckTransition
// (server/core/state_machine.h) inside their transactions.
//
// Threads: every method may be called from any thread, concurrently. Writes
// block their caller until the commit (a few ms with synchronous=FULL; many
// callers share one fsync). Reads never wait for the writer.
//
// Status codes: as in store.h. UNAVAILABLE means the write (and every other
// write of its group) was rolled back: disk full, I/O error, busy past the
// timeout; retry later. Interpretations of the contract, beyond store.h:
//   * CreateSweep: no jobs, max_attempts < 1, or a repeated cell_key or
//     cell_index is INVALID_ARGUMENT and writes nothing.
//   * Cancel: exactly one of sweep_id and job_id must be set
//     (INVALID_ARGUMENT). Cancelling a job already cancelled is OK and counts
//     nothing; a succeeded, failed or lost job is FAILED_PRECONDITION (the
//     state machine's message). cancel_ordered counts every running job that
//     now carries a cancel request, including ones requested before.
//   * Retry: an empty `states` means {failed, lost}; any other state is
//     INVALID_ARGUMENT. Retried jobs get failures = consecutive_lost = 0 and
//     the sweep's finished_at is cleared. Attempt numbers keep counting.
//   * RenewLeases: an unknown worker is NOT_FOUND; an attempt that is
//     unknown, stale, or another worker's gets kAbandon; a cancel-requested
//     one gets kCancel and its lease is still renewed so it can stop cleanly.
//   * AppendMetrics: a batch with an unknown attempt is NOT_FOUND, with an
//     empty metric name or a negative step INVALID_ARGUMENT (that batch only).
//     NaN is stored as NULL and reads back as NaN; +-inf are stored as is.
//   * QueryMetrics: "name" order is byte order of the name; sweep_id 0 means
//     "any sweep" and then job_ids must not be empty (INVALID_ARGUMENT); a
//     listed job that does not exist, or is not in the sweep, is NOT_FOUND;
//     chunk 0 is INVALID_ARGUMENT. Chunks are read in separate short read
//     transactions (a slow sink holds no connection): every point committed
//     before the call is delivered exactly once. An after_step below 0
//     selects every point (steps are never negative).
//   * CountMetrics: one read transaction (a consistent snapshot), one COUNT
//     over the metrics key per series.
//   * PruneCheckpoints: keep < 0 is INVALID_ARGUMENT; "newest" is the highest
//     step (then the highest id); paths are returned oldest first.
#ifndef SWITCHYARD_SERVER_STORE_SQLITE_STORE_H_
#define SWITCHYARD_SERVER_STORE_SQLITE_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/store.h"
#include "server/store/sqlite/database.h"
#include "server/store/sqlite/group_writer.h"

namespace switchyard::server {

class SqliteStore : public Store {
 public:
  struct Options {
    std::string path;  // the database file; created when missing
    // FULL: a committed write survives a power cut. NORMAL (WAL): it survives
    // a crash of the process but the last commits may be lost on power loss;
    // faster on slow disks.
    sqlite::Synchronous synchronous = sqlite::Synchronous::kFull;
    int read_connections = 4;  // read-only connections in the pool, >= 1
    absl::Duration busy_timeout = absl::Seconds(5);
    // A size cap in pages (PRAGMA max_page_count); 0 = none. Writes beyond it
    // fail as a full disk does (UNAVAILABLE); tests use it to simulate one.
    int64_t max_page_count = 0;
    sqlite::GroupWriterOptions writer;
  };

  // Opens or creates the file, applies the embedded migrations and starts
  // the writer thread. FAILED_PRECONDITION for a database of a newer schema
  // ("database schema version 7 is newer than this coordinator (knows up to
  // 1); upgrade the coordinator"); INVALID_ARGUMENT for a bad option;
  // UNAVAILABLE when the file cannot be opened or written; INTERNAL when it is
  // not a database.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const Options& options);

  // Finishes queued writes, then closes every connection. No call may be in
  // flight or start during destruction.
  ~SqliteStore() override;

  absl::StatusOr<int64_t> CreateSweep(const SweepRecord& sweep,
                                      const std::vector<NewJob>& jobs) override;
  absl::StatusOr<SweepRecord> GetSweep(int64_t sweep_id) override;
  absl::StatusOr<std::vector<SweepRecord>> ListSweeps() override;
  absl::StatusOr<std::vector<JobRecord>> ListJobs(int64_t sweep_id,
                                                  std::optional<JobState> state) override;
  absl::StatusOr<JobRecord> GetJob(int64_t job_id) override;

  absl::StatusOr<int64_t> RegisterWorker(const WorkerRecord& worker) override;
  absl::Status TouchWorker(int64_t worker_id, bool draining, int32_t slots_busy,
                           absl::Time now) override;
  absl::StatusOr<WorkerRecord> GetWorker(int64_t worker_id) override;
  absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() override;
  absl::StatusOr<bool> UnquarantineWorker(int64_t worker_id) override;

  absl::StatusOr<std::optional<Assignment>> ClaimJob(const ClaimParams& params) override;
  absl::StatusOr<std::vector<Order>> RenewLeases(int64_t worker_id,
                                                 const std::vector<AttemptRef>& attempts,
                                                 absl::Time lease_expires,
                                                 absl::Time now) override;
  absl::StatusOr<FinishAndClaimResult> FinishAttemptAndClaim(
      const AttemptRef& ref, AttemptOutcome outcome, const std::string& cause,
      const std::string& summary_json, const ClaimParams& next) override;
  absl::StatusOr<JobState> FinishAttempt(const AttemptRef& ref, AttemptOutcome outcome,
                                         const std::string& cause,
                                         const std::string& summary_json,
                                         absl::Time now) override;
  absl::StatusOr<int64_t> ExpireLeases(absl::Time now) override;
  absl::StatusOr<CancelResult> Cancel(int64_t sweep_id, int64_t job_id, absl::Time now) override;
  absl::StatusOr<int64_t> Retry(int64_t sweep_id, const std::vector<JobState>& states,
                                absl::Time now) override;

  absl::StatusOr<int64_t> JobOfRunningAttempt(const AttemptRef& ref) override;

  absl::StatusOr<std::vector<absl::Status>> AppendMetrics(
      const std::vector<MetricBatchWrite>& batches) override;
  absl::Status QueryMetrics(
      const MetricQuery& query, size_t chunk,
      const std::function<bool(const std::vector<JobMetricPoint>&)>& sink) override;
  absl::StatusOr<std::vector<SeriesCount>> CountMetrics(const MetricQuery& query) override;
  absl::StatusOr<AttemptOwner> OwnerOfAttempt(int64_t attempt_id) override;

  absl::StatusOr<int64_t> AddCheckpoint(const AttemptRef& ref, int64_t step, int64_t size_bytes,
                                        const std::string& sha256, const std::string& path,
                                        absl::Time now) override;
  absl::StatusOr<CheckpointRecord> GetCheckpointFor(const AttemptRef& ref,
                                                    int64_t checkpoint_id) override;
  absl::StatusOr<std::vector<CheckpointRecord>> ListCheckpoints(int64_t job_id) override;
  absl::StatusOr<std::vector<std::string>> PruneCheckpoints(int64_t job_id, int keep) override;

  // Group-commit latency: one "commit" is one write group, from BEGIN to the
  // end of COMMIT (a rolled-back group counts too).
  StoreStats Stats() const override;

  // Write groups committed or rolled back so far (for tests).
  int64_t WriteGroupCount() const { return writer_->GroupCount(); }

 private:
  SqliteStore() = default;

  // Runs `work` on the writer thread in its own savepoint of the next group;
  // `weight` estimates the rows it touches.
  absl::Status Write(const sqlite::GroupWriter::Work& work, int64_t weight = 1);
  // Runs `read` in one read transaction (a consistent snapshot) on a pooled
  // read-only connection.
  absl::Status Read(absl::FunctionRef<absl::Status(sqlite::Database&)> read);

  // The id of a metric name, inserting it if new. Writer thread only.
  absl::StatusOr<int64_t> MetricNameId(sqlite::WriteContext& context, const std::string& name);

  std::unique_ptr<sqlite::GroupWriter> writer_;

  // The read pool: connections not in use. Guarded by readers_mutex_.
  std::mutex readers_mutex_;
  std::condition_variable reader_free_;
  std::vector<std::unique_ptr<sqlite::Database>> readers_;
  std::vector<sqlite::Database*> free_readers_;

  // Committed metric names. Touched only on the writer thread (filled by
  // OnCommit callbacks, so a rolled-back name never lands here).
  absl::flat_hash_map<std::string, int64_t> metric_name_ids_;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_STORE_SQLITE_STORE_H_
