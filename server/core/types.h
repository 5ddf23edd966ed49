// The coordinator's domain types: plain values, no protobuf, no SQL.
#ifndef SWITCHYARD_SERVER_CORE_TYPES_H_
#define SWITCHYARD_SERVER_CORE_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace switchyard::server {

// Values are stored in the database (jobs.state): never renumber.
enum class JobState {
  kPending = 1,
  kRunning = 2,
  kSucceeded = 3,
  kFailed = 4,     // the retry budget is used up
  kLost = 5,       // lost kMaxConsecutiveLost times in a row
  kCancelled = 6,
  // Early stopping (docs/early-stopping.md); neither failed nor succeeded,
  // and free of the retry budget.
  kPaused = 7,     // ASHA: finished a rung, keeps its checkpoint, may be promoted
  kStopped = 8,    // stopped by the sweep's scheduler; terminal, but retry resumes it
};

// Values are stored in the database (attempts.outcome): never renumber.
enum class AttemptOutcome {
  kRunning = 1,
  kSucceeded = 2,
  kFailed = 3,     // uses one unit of the retry budget
  kLost = 4,       // lease expired; free
  kPreempted = 5,  // handed back by a draining worker; free
  kCancelled = 6,
  kConfigError = 7,       // the trainer refused the job's config: fails the job at once
  kEnvironmentError = 8,  // the worker's environment failed: free for the job,
                          // counted against the worker (quarantine)
  kStopped = 9,           // the program obeyed a scheduler's stop order: the job is stopped
};

// Every state, in value order: for listings and counts.
inline constexpr JobState kAllJobStates[] = {
    JobState::kPending, JobState::kRunning,   JobState::kSucceeded, JobState::kFailed,
    JobState::kLost,    JobState::kCancelled, JobState::kPaused,    JobState::kStopped};

const char* JobStateName(JobState state);          // "pending", "running", ...
const char* AttemptOutcomeName(AttemptOutcome outcome);
bool JobStateFromName(std::string_view name, JobState* out);
bool IsTerminal(JobState state);  // succeeded, failed, lost, cancelled, stopped

struct StateCounts {
  int64_t pending = 0, running = 0, succeeded = 0, failed = 0, lost = 0, cancelled = 0,
          paused = 0, stopped = 0;
  int64_t total() const {
    return pending + running + succeeded + failed + lost + cancelled + paused + stopped;
  }
  // No job pending, running or paused: nothing more will happen by itself.
  bool AllEnded() const { return pending == 0 && running == 0 && paused == 0; }
  int64_t& For(JobState state);
};

// One early-stopping decision about a job (server/core/early_stopping.h),
// stored in the transaction that acted on it.
struct DecisionRecord {
  int64_t id = 0;
  int64_t sweep_id = 0;
  int64_t job_id = 0;
  std::string kind;       // start, pause, promote, stop, done
  int32_t rung = -1;      // asha; -1 for median
  int32_t epoch = 0;
  double value = 0;
  std::string reason;
  std::string inputs_json;
  absl::Time decided_at;
};

// How far the jobs of an ASHA sweep got (Store::GetRungs).
struct RungRecord {
  int32_t index = 0;
  int32_t epoch = 0;
  int64_t reached = 0, promoted = 0, paused = 0, stopped = 0;
  std::vector<int64_t> promoted_jobs;  // in the order promoted
};

struct SweepRecord {
  int64_t id = 0;
  std::string name;
  int32_t priority = 0;
  int32_t max_attempts = 0;
  std::string spec_json;      // the submitted definition, for display and audit
  absl::Time created_at;
  std::optional<absl::Time> finished_at;
  StateCounts counts;
  std::string scheduler_json;  // the sweep's scheduler as stored; "" = none
  std::vector<RungRecord> rungs;  // ASHA sweeps, GetSweep only
};

struct AttemptRecord {
  int64_t id = 0;
  int64_t job_id = 0;
  int32_t number = 0;
  int64_t worker_id = 0;
  std::string worker_name;
  std::string device;
  AttemptOutcome outcome = AttemptOutcome::kRunning;
  std::string cause;
  absl::Time started_at;
  std::optional<absl::Time> ended_at;
  int64_t resumed_from_step = 0;
};

struct JobRecord {
  int64_t id = 0;
  int64_t sweep_id = 0;
  int64_t cell_index = 0;
  std::string config_json;
  JobState state = JobState::kPending;
  int32_t failures = 0;
  int32_t consecutive_lost = 0;
  int32_t attempt_count = 0;
  bool cancel_requested = false;
  bool stop_requested = false;   // the scheduler ordered it to stop (median)
  std::string summary_json;
  std::string last_cause;
  absl::Time created_at;
  absl::Time updated_at;
  std::map<std::string, double> final_metrics;  // filled where asked for
  std::vector<AttemptRecord> attempts;          // filled where asked for
  // The epoch its current or next attempt trains to; 0 = the config's epochs.
  int32_t epoch_budget = 0;
  std::vector<DecisionRecord> decisions;       // GetJob only, oldest first
};


struct DeviceRecord {
  std::string name;
  std::string kind;
  int64_t memory_bytes = 0;
  int32_t slots = 0;
  std::string description;
  int32_t slots_busy = 0;  // running attempts on it (ListWorkers only)
};

struct WorkerRecord {
  int64_t id = 0;
  std::string name;
  std::string hostname;
  std::vector<DeviceRecord> devices;
  std::string build_version;
  std::string trainer_version;
  std::string cuda_version;
  bool draining = false;
  int32_t slots_busy = 0;
  absl::Time registered_at;
  absl::Time last_seen;
  // Environment errors in a row (WorkerAfterAttempt, state_machine.h); at
  // kQuarantineAfter the worker is quarantined and gets no more claims.
  int32_t environment_failures = 0;
  std::optional<absl::Time> quarantined_at;  // set while quarantined
  std::string quarantine_cause;              // the last environment error's cause
  // The training programs it runs (config `program` values); it is offered
  // only jobs of these. Empty at registration means the built-in trainer.
  std::vector<std::string> programs;
};

// The fencing pair every call about a running attempt carries.
struct AttemptRef {
  int64_t attempt_id = 0;
  std::string fencing_token;
};

struct Assignment {
  int64_t job_id = 0;
  int64_t sweep_id = 0;
  AttemptRef attempt;
  int32_t attempt_number = 0;
  std::string config_json;
  std::string program;         // the config's `program`: which of the worker's programs runs it
  int64_t checkpoint_id = 0;   // 0 = none
  int64_t checkpoint_step = 0;
  int32_t epoch_budget = 0;    // train to this epoch; 0 = the config's epochs
};

struct MetricPoint {
  std::string name;
  int64_t step = 0;
  double value = 0;
  double wall_time = 0;  // unix seconds
};

struct JobMetricPoint {
  int64_t job_id = 0;
  MetricPoint point;
};

struct CheckpointRecord {
  int64_t id = 0;
  int64_t job_id = 0;
  int64_t attempt_id = 0;
  int64_t step = 0;
  int64_t size_bytes = 0;
  std::string sha256;
  std::string path;      // relative to the data dir
  absl::Time created_at;
};

// What Heartbeat tells a worker about one of its attempts.
enum class OrderKind { kCancel = 1, kAbandon = 2, kStop = 3 };
struct Order {
  int64_t attempt_id = 0;
  OrderKind kind = OrderKind::kCancel;
};

struct CancelResult {
  int64_t cancelled_pending = 0;
  int64_t cancel_ordered = 0;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_CORE_TYPES_H_
