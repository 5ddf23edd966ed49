#include "server/store/sqlite_store.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/base/constant_time.h"
#include "common/base/log.h"
#include "common/base/status_macros.h"
#include "common/config/job_config.h"
#include "nlohmann/json.hpp"
#include "server/core/state_machine.h"
#include "server/store/migrations.h"
#include "server/store/scheduling.h"

namespace switchyard::server {
namespace {

using sqlite::Database;
using sqlite::ScopedStatement;
using sqlite::Statement;
using sqlite::WriteContext;

// ---- SQL. Explicit columns; every multi-row SELECT has ORDER BY.

constexpr char kInsertSweep[] =
    "INSERT INTO sweeps (name, priority, max_attempts, spec_json, created_at, scheduler_json) "
    "VALUES (?, ?, ?, ?, ?, ?)";
constexpr char kInsertJob[] =
    "INSERT INTO jobs (sweep_id, cell_index, cell_key, config_json, priority, state, "
    "created_at, updated_at, program, scheduler_held) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)";
constexpr char kSelectSweep[] =
    "SELECT id, name, priority, max_attempts, spec_json, created_at, finished_at, "
    "scheduler_json FROM sweeps WHERE id = ?";
constexpr char kSelectSweeps[] =
    "SELECT id, name, priority, max_attempts, spec_json, created_at, finished_at, "
    "scheduler_json FROM sweeps ORDER BY id DESC";
constexpr char kCountJobsOfSweep[] =
    "SELECT state, COUNT(*) FROM jobs WHERE sweep_id = ? GROUP BY state ORDER BY state";
constexpr char kCountJobsOfAllSweeps[] =
    "SELECT sweep_id, state, COUNT(*) FROM jobs GROUP BY sweep_id, state "
    "ORDER BY sweep_id, state";
constexpr char kSweepExists[] = "SELECT 1 FROM sweeps WHERE id = ?";
constexpr char kUnfinishSweep[] = "UPDATE sweeps SET finished_at = NULL WHERE id = ?";

// The columns ReadJob expects, in order.
#define SY_JOB_COLUMNS                                                                       \
  "id, sweep_id, cell_index, config_json, state, failures, consecutive_lost, attempt_count, " \
  "cancel_requested, summary_json, last_cause, created_at, updated_at, current_attempt_id, "  \
  "epoch_budget, stop_requested"
constexpr char kSelectJob[] = "SELECT " SY_JOB_COLUMNS " FROM jobs WHERE id = ?";
constexpr char kSelectJobsOfSweep[] =
    "SELECT " SY_JOB_COLUMNS " FROM jobs WHERE sweep_id = ? ORDER BY cell_index";
constexpr char kSelectJobsOfSweepInState[] =
    "SELECT " SY_JOB_COLUMNS " FROM jobs WHERE sweep_id = ? AND state = ? ORDER BY cell_index";
#undef SY_JOB_COLUMNS
constexpr char kSelectJobIdsOfSweep[] = "SELECT id FROM jobs WHERE sweep_id = ? ORDER BY id";
constexpr char kSelectSweepOfJob[] = "SELECT sweep_id FROM jobs WHERE id = ?";
constexpr char kSelectMaxAttempts[] = "SELECT max_attempts FROM sweeps WHERE id = ?";

constexpr char kFinalMetricsOfSweep[] =
    "SELECT l.job_id, n.name, l.value FROM metric_last l "
    "JOIN metric_names n ON n.id = l.name_id "
    "WHERE l.job_id IN (SELECT id FROM jobs WHERE sweep_id = ?) "
    "ORDER BY l.job_id, n.name";
constexpr char kFinalMetricsOfJob[] =
    "SELECT n.name, l.value FROM metric_last l JOIN metric_names n ON n.id = l.name_id "
    "WHERE l.job_id = ? ORDER BY n.name";
constexpr char kSelectAttemptsOfJob[] =
    "SELECT a.id, a.job_id, a.number, a.worker_id, w.name, a.device, a.outcome, a.cause, "
    "a.started_at, a.ended_at, a.resumed_from_step "
    "FROM attempts a JOIN workers w ON w.id = a.worker_id WHERE a.job_id = ? ORDER BY a.number";

constexpr char kInsertWorker[] =
    "INSERT INTO workers (name, hostname, devices_json, build_version, trainer_version, "
    "cuda_version, draining, slots_busy, registered_at, last_seen, programs_json) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kTouchWorker[] =
    "UPDATE workers SET draining = ?, slots_busy = ?, last_seen = ? WHERE id = ?";
constexpr char kWorkerExists[] = "SELECT 1 FROM workers WHERE id = ?";
#define SY_WORKER_COLUMNS                                                                  \
  "id, name, hostname, devices_json, build_version, trainer_version, cuda_version, draining, " \
  "slots_busy, registered_at, last_seen, environment_failures, quarantined_at, "              \
  "quarantine_cause, programs_json"
constexpr char kSelectWorker[] = "SELECT " SY_WORKER_COLUMNS " FROM workers WHERE id = ?";
constexpr char kSelectWorkers[] = "SELECT " SY_WORKER_COLUMNS " FROM workers ORDER BY id";
// Busy slots per (worker, device): the running attempts (attempts_lease index).
constexpr char kCountRunningAttemptsByDevice[] =
    "SELECT worker_id, device, COUNT(*) FROM attempts WHERE outcome = 1 "
    "GROUP BY worker_id, device ORDER BY worker_id, device";
constexpr char kSelectWorkerHealth[] =
    "SELECT environment_failures, quarantined_at, quarantine_cause, programs_json FROM workers "
    "WHERE id = ?";
// quarantined_at keeps its first value while the quarantine lasts.
constexpr char kUpdateWorkerHealth[] =
    "UPDATE workers SET environment_failures = ?, "
    "quarantined_at = CASE WHEN ? THEN COALESCE(quarantined_at, ?) ELSE NULL END, "
    "quarantine_cause = ? WHERE id = ?";
constexpr char kUnquarantineWorker[] =
    "UPDATE workers SET environment_failures = 0, quarantined_at = NULL, quarantine_cause = '' "
    "WHERE id = ?";

// The claim: the first entry of the jobs_claim index for one program (held
// ASHA trials are the scheduler's to start: scheduling.h).
constexpr char kSelectNextPending[] =
    "SELECT id, sweep_id, attempt_count, config_json, priority, epoch_budget FROM jobs "
    "WHERE state = 1 AND scheduler_held = 0 AND program = ? ORDER BY priority DESC, id LIMIT 1";
constexpr char kSelectClaimedJob[] =
    "SELECT sweep_id, attempt_count, config_json, program, state FROM jobs WHERE id = ?";
constexpr char kSelectLatestCheckpoint[] =
    "SELECT id, step FROM checkpoints WHERE job_id = ? ORDER BY step DESC, id DESC LIMIT 1";
constexpr char kInsertAttempt[] =
    "INSERT INTO attempts (job_id, number, worker_id, device, fencing_token, outcome, "
    "started_at, lease_expires, resumed_from_step) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)";
constexpr char kMarkJobRunning[] =
    "UPDATE jobs SET state = 2, attempt_count = ?, current_attempt_id = ?, updated_at = ?, "
    "epoch_budget = ?, scheduler_held = 0 WHERE id = ? AND state IN (1, 7)";

// The fencing pair's attempt with its job's view of it.
constexpr char kSelectFencing[] =
    "SELECT a.job_id, a.fencing_token, a.outcome, a.worker_id, j.current_attempt_id, "
    "j.cancel_requested FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE a.id = ?";
constexpr char kRenewLease[] = "UPDATE attempts SET lease_expires = ? WHERE id = ?";
constexpr char kEndAttempt[] =
    "UPDATE attempts SET outcome = ?, cause = ?, ended_at = ? WHERE id = ? AND outcome = 1";
constexpr char kUpdateJobAfterAttempt[] =
    "UPDATE jobs SET state = ?, failures = ?, consecutive_lost = ?, current_attempt_id = NULL, "
    "last_cause = ?, summary_json = CASE WHEN ? = '' THEN summary_json ELSE ? END, "
    "updated_at = ? WHERE id = ?";
constexpr char kSelectExpiredAttempts[] =
    "SELECT id, job_id, worker_id FROM attempts WHERE outcome = 1 AND lease_expires < ? "
    "ORDER BY lease_expires, id";

constexpr char kSelectUnfinishedJobsOfSweep[] =
    "SELECT id, state, cancel_requested FROM jobs WHERE sweep_id = ? AND state IN (1, 2, 7) "
    "ORDER BY id";
constexpr char kCancelPendingJob[] =
    "UPDATE jobs SET state = 6, last_cause = 'cancelled', updated_at = ? "
    "WHERE id = ? AND state IN (1, 7)";
constexpr char kRequestCancel[] =
    "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ? AND state = 2";
constexpr char kSelectJobsOfSweepInStateIds[] =
    "SELECT id FROM jobs WHERE sweep_id = ? AND state = ? ORDER BY id";
constexpr char kRetryJob[] =
    "UPDATE jobs SET state = 1, failures = 0, consecutive_lost = 0, cancel_requested = 0, "
    "epoch_budget = 0, scheduler_held = 0, stop_requested = 0, updated_at = ? "
    "WHERE id = ? AND state = ?";

constexpr char kInsertMetricName[] = "INSERT OR IGNORE INTO metric_names (name) VALUES (?)";
constexpr char kSelectMetricName[] = "SELECT id FROM metric_names WHERE name = ?";
constexpr char kInsertMetric[] =
    "INSERT OR IGNORE INTO metrics (job_id, name_id, step, value, wall_time) "
    "VALUES (?, ?, ?, ?, ?)";
// metric_last follows the highest step; an equal step keeps the stored row,
// as the insert-or-ignore into metrics does.
constexpr char kUpsertMetricLast[] =
    "INSERT INTO metric_last (job_id, name_id, step, value, wall_time) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (job_id, name_id) DO UPDATE SET step = excluded.step, value = excluded.value, "
    "wall_time = excluded.wall_time WHERE excluded.step > metric_last.step";
constexpr char kSelectMetricNamesOfJob[] =
    "SELECT l.name_id, n.name FROM metric_last l JOIN metric_names n ON n.id = l.name_id "
    "WHERE l.job_id = ? ORDER BY n.name";
constexpr char kCountMetricPoints[] =
    "SELECT COUNT(value) FROM metrics WHERE job_id = ? AND name_id = ? AND step > ?";
constexpr char kSelectAttemptOwner[] =
    "SELECT a.job_id, j.sweep_id FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE a.id = ?";
constexpr char kSelectMetricPoints[] =
    "SELECT step, value, wall_time FROM metrics WHERE job_id = ? AND name_id = ? AND step > ? "
    "ORDER BY step LIMIT ?";
constexpr char kSelectMetricValues[] =
    "SELECT step, value FROM metrics WHERE job_id = ? AND name_id = ? AND step > ? "
    "ORDER BY step LIMIT ?";

constexpr char kInsertCheckpoint[] =
    "INSERT INTO checkpoints (job_id, attempt_id, step, size_bytes, sha256, path, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectCheckpoint[] =
    "SELECT id, job_id, attempt_id, step, size_bytes, sha256, path, created_at "
    "FROM checkpoints WHERE id = ?";
constexpr char kSelectCheckpointsNewestFirst[] =
    "SELECT id, path FROM checkpoints WHERE job_id = ? ORDER BY step DESC, id DESC";
constexpr char kSelectCheckpointsOfJob[] =
    "SELECT id, job_id, attempt_id, step, size_bytes, sha256, path, created_at "
    "FROM checkpoints WHERE job_id = ? ORDER BY step DESC, id DESC";
constexpr char kDeleteCheckpoint[] = "DELETE FROM checkpoints WHERE id = ?";
constexpr char kJobExists[] = "SELECT 1 FROM jobs WHERE id = ?";

constexpr char kBeginRead[] = "BEGIN";
constexpr char kEndRead[] = "COMMIT";
constexpr char kRollbackRead[] = "ROLLBACK";

// ---- helpers

absl::Status Exists(Database& db, const char* sql, int64_t id, const char* what) {
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(sql));
  stmt->BindInt64(1, id);
  SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat(what, " ", id, " does not exist"));
  return absl::OkStatus();
}

absl::StatusOr<JobState> ToJobState(int64_t value) { return scheduling::JobStateFromDb(value); }

absl::StatusOr<AttemptOutcome> ToOutcome(int64_t value) {
  if (value < 1 || value > static_cast<int64_t>(AttemptOutcome::kStopped)) {
    return absl::InternalError(absl::StrCat("corrupt database: attempt outcome ", value));
  }
  return static_cast<AttemptOutcome>(value);
}

double MetricValue(const Statement& stmt, int column) {
  return stmt.ColumnIsNull(column) ? std::numeric_limits<double>::quiet_NaN()
                                   : stmt.ColumnDouble(column);
}

struct JobRow {
  JobRecord record;
  int64_t current_attempt_id = 0;  // 0 = none
};

absl::StatusOr<JobRow> ReadJobRow(const Statement& stmt) {
  JobRow row;
  JobRecord& job = row.record;
  job.id = stmt.ColumnInt64(0);
  job.sweep_id = stmt.ColumnInt64(1);
  job.cell_index = stmt.ColumnInt64(2);
  job.config_json = stmt.ColumnText(3);
  SY_ASSIGN_OR_RETURN(job.state, ToJobState(stmt.ColumnInt64(4)));
  job.failures = static_cast<int32_t>(stmt.ColumnInt64(5));
  job.consecutive_lost = static_cast<int32_t>(stmt.ColumnInt64(6));
  job.attempt_count = static_cast<int32_t>(stmt.ColumnInt64(7));
  job.cancel_requested = stmt.ColumnBool(8);
  job.summary_json = stmt.ColumnText(9);
  job.last_cause = stmt.ColumnText(10);
  job.created_at = stmt.ColumnTime(11);
  job.updated_at = stmt.ColumnTime(12);
  row.current_attempt_id = stmt.ColumnIsNull(13) ? 0 : stmt.ColumnInt64(13);
  job.epoch_budget = static_cast<int32_t>(stmt.ColumnInt64(14));
  job.stop_requested = stmt.ColumnBool(15);
  return row;
}

absl::StatusOr<JobRow> LoadJob(Database& db, int64_t job_id) {
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectJob));
  stmt->BindInt64(1, job_id);
  SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("job ", job_id, " does not exist"));
  return ReadJobRow(*stmt);
}

SweepRecord ReadSweep(const Statement& stmt) {
  SweepRecord sweep;
  sweep.id = stmt.ColumnInt64(0);
  sweep.name = stmt.ColumnText(1);
  sweep.priority = static_cast<int32_t>(stmt.ColumnInt64(2));
  sweep.max_attempts = static_cast<int32_t>(stmt.ColumnInt64(3));
  sweep.spec_json = stmt.ColumnText(4);
  sweep.created_at = stmt.ColumnTime(5);
  if (!stmt.ColumnIsNull(6)) sweep.finished_at = stmt.ColumnTime(6);
  sweep.scheduler_json = stmt.ColumnText(7);
  return sweep;
}

// A worker's programs as stored: a JSON array of names; none given means
// the built-in trainer.
std::string ProgramsJson(const std::vector<std::string>& programs) {
  if (programs.empty()) return nlohmann::json::array({config::kBuiltinProgram}).dump();
  return nlohmann::json(programs).dump();
}

absl::StatusOr<std::vector<std::string>> ParsePrograms(int64_t worker_id, const std::string& text) {
  const nlohmann::json programs = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::vector<std::string> names;
  if (programs.is_array()) {
    for (const nlohmann::json& p : programs) {
      if (!p.is_string()) break;
      names.push_back(p.get<std::string>());
    }
  }
  if (!programs.is_array() || names.size() != programs.size()) {
    return absl::InternalError(absl::StrCat("corrupt database: worker ", worker_id,
                                            " programs_json is not an array of names"));
  }
  return names;
}

absl::StatusOr<WorkerRecord> ReadWorker(const Statement& stmt) {
  WorkerRecord worker;
  worker.id = stmt.ColumnInt64(0);
  worker.name = stmt.ColumnText(1);
  worker.hostname = stmt.ColumnText(2);
  const nlohmann::json devices =
      nlohmann::json::parse(stmt.ColumnText(3), nullptr, /*allow_exceptions=*/false);
  if (!devices.is_array()) {
    return absl::InternalError(
        absl::StrCat("corrupt database: worker ", worker.id, " devices_json is not an array"));
  }
  for (const nlohmann::json& d : devices) {
    if (!d.is_object()) {
      return absl::InternalError(
          absl::StrCat("corrupt database: worker ", worker.id, " has a device that is not an object"));
    }
    DeviceRecord device;
    device.name = d.value("name", "");
    device.kind = d.value("kind", "");
    device.memory_bytes = d.value("memory_bytes", int64_t{0});
    device.slots = d.value("slots", int32_t{0});
    device.description = d.value("description", "");
    worker.devices.push_back(std::move(device));
  }
  worker.build_version = stmt.ColumnText(4);
  worker.trainer_version = stmt.ColumnText(5);
  worker.cuda_version = stmt.ColumnText(6);
  worker.draining = stmt.ColumnBool(7);
  worker.slots_busy = static_cast<int32_t>(stmt.ColumnInt64(8));
  worker.registered_at = stmt.ColumnTime(9);
  worker.last_seen = stmt.ColumnTime(10);
  worker.environment_failures = static_cast<int32_t>(stmt.ColumnInt64(11));
  if (!stmt.ColumnIsNull(12)) worker.quarantined_at = stmt.ColumnTime(12);
  worker.quarantine_cause = stmt.ColumnText(13);
  SY_ASSIGN_OR_RETURN(worker.programs, ParsePrograms(worker.id, stmt.ColumnText(14)));
  return worker;
}

std::string DevicesJson(const std::vector<DeviceRecord>& devices) {
  nlohmann::json array = nlohmann::json::array();
  for (const DeviceRecord& d : devices) {
    array.push_back({{"name", d.name},
                     {"kind", d.kind},
                     {"memory_bytes", d.memory_bytes},
                     {"slots", d.slots},
                     {"description", d.description}});
  }
  // Replace invalid UTF-8 instead of failing: device descriptions come from
  // drivers and must not be able to break registration.
  return array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::Status FillCounts(Database& db, int64_t sweep_id, StateCounts* counts) {
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kCountJobsOfSweep));
  stmt->BindInt64(1, sweep_id);
  while (true) {
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::OkStatus();
    SY_ASSIGN_OR_RETURN(JobState state, ToJobState(stmt->ColumnInt64(0)));
    counts->For(state) = stmt->ColumnInt64(1);
  }
}

struct FencedAttempt {
  int64_t attempt_id = 0;
  int64_t job_id = 0;
  int64_t worker_id = 0;
  bool cancel_requested = false;
};

// NOT_FOUND for an unknown attempt; FAILED_PRECONDITION unless `ref` is the
// running attempt of its job with the right token.
absl::StatusOr<FencedAttempt> CheckFencing(Database& db, const AttemptRef& ref) {
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectFencing));
  stmt->BindInt64(1, ref.attempt_id);
  SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("attempt ", ref.attempt_id, " does not exist"));
  FencedAttempt fenced;
  fenced.attempt_id = ref.attempt_id;
  fenced.job_id = stmt->ColumnInt64(0);
  const std::string token = stmt->ColumnText(1);
  SY_ASSIGN_OR_RETURN(AttemptOutcome outcome, ToOutcome(stmt->ColumnInt64(2)));
  fenced.worker_id = stmt->ColumnInt64(3);
  const int64_t current = stmt->ColumnIsNull(4) ? 0 : stmt->ColumnInt64(4);
  fenced.cancel_requested = stmt->ColumnBool(5);
  // Constant time, so response times say nothing about how much of a
  // guessed token was right.
  if (!common::ConstantTimeEquals(ref.fencing_token, token)) {
    return absl::FailedPreconditionError(
        absl::StrCat("attempt ", ref.attempt_id, " of job ", fenced.job_id,
                     ": wrong fencing token"));
  }
  if (outcome != AttemptOutcome::kRunning || current != ref.attempt_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("attempt ", ref.attempt_id, " of job ", fenced.job_id,
                     " is no longer running (", AttemptOutcomeName(outcome), ")"));
  }
  return fenced;
}


// Ends the running attempt `attempt_id` of `job` with `outcome`, applying the
// state machine. Returns the job's new state.
// The worker's health after its attempt ended with `outcome`
// (WorkerAfterAttempt), written back when it changed.
absl::Status UpdateWorkerHealth(Database& db, int64_t worker_id, AttemptOutcome outcome,
                                const std::string& cause, absl::Time now) {
  WorkerHealth before;
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectWorkerHealth));
    stmt->BindInt64(1, worker_id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::InternalError(absl::StrCat("worker ", worker_id, " is missing"));
    before.environment_failures = static_cast<int32_t>(stmt->ColumnInt64(0));
    before.quarantined = !stmt->ColumnIsNull(1);
    before.last_cause = stmt->ColumnText(2);
  }
  // Only the cause's first line: the rest is a stderr tail, kept on the attempt.
  const WorkerHealth after =
      WorkerAfterAttempt(before, outcome, cause.substr(0, std::min(cause.find('\n'), size_t{2000})));
  if (after.environment_failures == before.environment_failures &&
      after.quarantined == before.quarantined && after.last_cause == before.last_cause) {
    return absl::OkStatus();
  }
  if (after.quarantined && !before.quarantined) {
    SY_LOG(Warning) << "worker " << worker_id << " quarantined after "
                    << after.environment_failures
                    << " environment errors in a row; last: " << after.last_cause;
  }
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kUpdateWorkerHealth));
  stmt->BindInt64(1, after.environment_failures);
  stmt->BindBool(2, after.quarantined);
  stmt->BindTime(3, now);
  stmt->BindText(4, after.last_cause);
  stmt->BindInt64(5, worker_id);
  return stmt->Run();
}

// FAILED_PRECONDITION, naming the cause, when the worker is quarantined;
// NOT_FOUND when it does not exist.
// The programs of a worker that may claim: NOT_FOUND for an unknown worker,
// FAILED_PRECONDITION for a quarantined one.
absl::StatusOr<std::vector<std::string>> CheckMayClaim(Database& db, int64_t worker_id) {
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectWorkerHealth));
  stmt->BindInt64(1, worker_id);
  SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("worker ", worker_id, " does not exist"));
  if (stmt->ColumnIsNull(1)) return ParsePrograms(worker_id, stmt->ColumnText(3));
  return absl::FailedPreconditionError(absl::StrCat(
      "worker ", worker_id, " is quarantined after ", stmt->ColumnInt64(0),
      " environment errors in a row (last: ", stmt->ColumnText(2),
      "); fix the machine and restart the worker, or run `switchyard workers --unquarantine ",
      worker_id, "`"));
}

absl::StatusOr<JobState> EndAttempt(Database& db, const JobRecord& job, int64_t attempt_id,
                                    int64_t worker_id, AttemptOutcome outcome,
                                    const std::string& cause, const std::string& summary_json,
                                    absl::Time now) {
  int32_t max_attempts = 0;
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectMaxAttempts));
    stmt->BindInt64(1, job.sweep_id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::InternalError(absl::StrCat("job ", job.id, ": its sweep is missing"));
    max_attempts = static_cast<int32_t>(stmt->ColumnInt64(0));
  }
  SY_ASSIGN_OR_RETURN(JobAfterAttempt after, ApplyAttemptEnd(job, max_attempts, outcome));
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kEndAttempt));
    stmt->BindInt64(1, static_cast<int64_t>(outcome));
    stmt->BindText(2, cause);
    stmt->BindTime(3, now);
    stmt->BindInt64(4, attempt_id);
    SY_RETURN_IF_ERROR(stmt->Run());
    if (db.Changes() != 1) {
      return absl::InternalError(absl::StrCat("attempt ", attempt_id, " was not running"));
    }
  }
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kUpdateJobAfterAttempt));
    stmt->BindInt64(1, static_cast<int64_t>(after.state));
    stmt->BindInt64(2, after.failures);
    stmt->BindInt64(3, after.consecutive_lost);
    stmt->BindText(4, cause);
    stmt->BindText(5, summary_json);
    stmt->BindText(6, summary_json);
    stmt->BindTime(7, now);
    stmt->BindInt64(8, job.id);
    SY_RETURN_IF_ERROR(stmt->Run());
  }
  SY_RETURN_IF_ERROR(UpdateWorkerHealth(db, worker_id, outcome, cause, now));
  SY_RETURN_IF_ERROR(scheduling::AfterAttemptEnd(db, job, outcome, after.state, now));
  if (IsTerminal(after.state)) SY_RETURN_IF_ERROR(scheduling::MaybeFinishSweep(db, job.sweep_id, now));
  return after.state;
}

absl::Status FillFinalMetrics(Database& db, JobRecord* job) {
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kFinalMetricsOfJob));
  stmt->BindInt64(1, job->id);
  while (true) {
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::OkStatus();
    job->final_metrics[stmt->ColumnText(0)] = MetricValue(*stmt, 1);
  }
}

// A row of kSelectCheckpoint's columns.
CheckpointRecord ReadCheckpoint(const Statement& stmt) {
  CheckpointRecord c;
  c.id = stmt.ColumnInt64(0);
  c.job_id = stmt.ColumnInt64(1);
  c.attempt_id = stmt.ColumnInt64(2);
  c.step = stmt.ColumnInt64(3);
  c.size_bytes = stmt.ColumnInt64(4);
  c.sha256 = stmt.ColumnText(5);
  c.path = stmt.ColumnText(6);
  c.created_at = stmt.ColumnTime(7);
  return c;
}

absl::StatusOr<CheckpointRecord> LoadCheckpoint(Database& db, int64_t checkpoint_id) {
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectCheckpoint));
  stmt->BindInt64(1, checkpoint_id);
  SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("checkpoint ", checkpoint_id, " does not exist"));
  }
  return ReadCheckpoint(*stmt);
}

// The jobs a metric query reads, ascending: its job_ids (each checked to
// exist and, with a sweep id, to be in the sweep) or every job of its sweep.
absl::StatusOr<std::vector<int64_t>> JobsOfQuery(Database& db, const MetricQuery& query) {
  if (query.sweep_id == 0 && query.job_ids.empty()) {
    return absl::InvalidArgumentError("a metric query needs a sweep id or job ids");
  }
  std::vector<int64_t> job_ids = query.job_ids;
  std::sort(job_ids.begin(), job_ids.end());
  job_ids.erase(std::unique(job_ids.begin(), job_ids.end()), job_ids.end());
  if (query.sweep_id != 0) SY_RETURN_IF_ERROR(Exists(db, kSweepExists, query.sweep_id, "sweep"));
  if (job_ids.empty()) {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectJobIdsOfSweep));
    stmt->BindInt64(1, query.sweep_id);
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return job_ids;
      job_ids.push_back(stmt->ColumnInt64(0));
    }
  }
  for (int64_t id : job_ids) {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectSweepOfJob));
    stmt->BindInt64(1, id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::NotFoundError(absl::StrCat("job ", id, " does not exist"));
    if (query.sweep_id != 0 && stmt->ColumnInt64(0) != query.sweep_id) {
      return absl::NotFoundError(absl::StrCat("job ", id, " is not in sweep ", query.sweep_id));
    }
  }
  return job_ids;
}

// ClaimJob's work inside the caller's write transaction.
absl::StatusOr<std::optional<Assignment>> ClaimNextPending(Database& db,
                                                           const ClaimParams& params) {
  if (params.fencing_token.empty()) {
    return absl::InvalidArgumentError("ClaimJob: the fencing token is empty");
  }
  SY_ASSIGN_OR_RETURN(std::vector<std::string> programs, CheckMayClaim(db, params.worker_id));
  Assignment a;
  int32_t attempt_count = 0;
  JobState from = JobState::kPending;
  // The best pending job of each of the worker's programs (one index probe
  // each; a worker has a handful), then the best of those.
  int64_t best_priority = 0;
  for (const std::string& program : programs) {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectNextPending));
    stmt->BindText(1, program);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) continue;
    const int64_t id = stmt->ColumnInt64(0), priority = stmt->ColumnInt64(4);
    if (a.job_id != 0 && (priority < best_priority || (priority == best_priority && id > a.job_id))) {
      continue;
    }
    best_priority = priority;
    a.job_id = id;
    a.sweep_id = stmt->ColumnInt64(1);
    attempt_count = static_cast<int32_t>(stmt->ColumnInt64(2));
    a.config_json = stmt->ColumnText(3);
    a.program = program;
    a.epoch_budget = static_cast<int32_t>(stmt->ColumnInt64(5));
  }
  // An ASHA sweep that outranks that job promotes a paused job or starts a
  // held trial instead (its decision written in this transaction).
  std::optional<scheduling::PlainCandidate> plain;
  if (a.job_id != 0) plain = scheduling::PlainCandidate{best_priority, a.sweep_id};
  SY_ASSIGN_OR_RETURN(std::optional<scheduling::ScheduledClaim> scheduled,
                      scheduling::ClaimScheduled(db, programs, plain, params.now));
  if (scheduled.has_value()) {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectClaimedJob));
    stmt->BindInt64(1, scheduled->job_id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::InternalError(absl::StrCat("job ", scheduled->job_id, " vanished"));
    a.job_id = scheduled->job_id;
    a.sweep_id = stmt->ColumnInt64(0);
    attempt_count = static_cast<int32_t>(stmt->ColumnInt64(1));
    a.config_json = stmt->ColumnText(2);
    a.program = stmt->ColumnText(3);
    SY_ASSIGN_OR_RETURN(from, ToJobState(stmt->ColumnInt64(4)));
    a.epoch_budget = scheduled->epoch_budget;
  }
  if (a.job_id == 0) return std::optional<Assignment>();  // nothing pending for it
  SY_RETURN_IF_ERROR(CheckTransition(a.job_id, from, JobState::kRunning));
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectLatestCheckpoint));
    stmt->BindInt64(1, a.job_id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (row) {
      a.checkpoint_id = stmt->ColumnInt64(0);
      a.checkpoint_step = stmt->ColumnInt64(1);
    }
  }
  a.attempt_number = attempt_count + 1;
  a.attempt.fencing_token = params.fencing_token;
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kInsertAttempt));
    stmt->BindInt64(1, a.job_id);
    stmt->BindInt64(2, a.attempt_number);
    stmt->BindInt64(3, params.worker_id);
    stmt->BindText(4, params.device);
    stmt->BindText(5, params.fencing_token);
    stmt->BindTime(6, params.now);
    stmt->BindTime(7, params.lease_expires);
    stmt->BindInt64(8, a.checkpoint_step);
    SY_RETURN_IF_ERROR(stmt->Run());
    a.attempt.attempt_id = db.LastInsertRowId();
  }
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kMarkJobRunning));
    stmt->BindInt64(1, a.attempt_number);
    stmt->BindInt64(2, a.attempt.attempt_id);
    stmt->BindTime(3, params.now);
    stmt->BindInt64(4, a.epoch_budget);
    stmt->BindInt64(5, a.job_id);
    SY_RETURN_IF_ERROR(stmt->Run());
    if (db.Changes() != 1) {
      return absl::InternalError(absl::StrCat("job ", a.job_id, " was not pending at claim"));
    }
  }
  return std::optional<Assignment>(std::move(a));
}

// FinishAttempt's work inside the caller's write transaction.
absl::StatusOr<JobState> FinishRunningAttempt(Database& db, const AttemptRef& ref,
                                              AttemptOutcome outcome, const std::string& cause,
                                              const std::string& summary_json, absl::Time now) {
  SY_ASSIGN_OR_RETURN(FencedAttempt fenced, CheckFencing(db, ref));
  SY_ASSIGN_OR_RETURN(JobRow job, LoadJob(db, fenced.job_id));
  return EndAttempt(db, job.record, ref.attempt_id, fenced.worker_id, outcome, cause,
                    summary_json, now);
}

}  // namespace

// ---- open and close

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const Options& options) {
  if (options.read_connections < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("read_connections must be at least 1, not ", options.read_connections));
  }
  sqlite::DatabaseOptions db_options;
  db_options.path = options.path;
  db_options.synchronous = options.synchronous;
  db_options.busy_timeout = options.busy_timeout;
  db_options.max_page_count = options.max_page_count;
  SY_ASSIGN_OR_RETURN(std::unique_ptr<Database> writer_db, Database::Open(db_options));
  SY_RETURN_IF_ERROR(ApplyMigrations(*writer_db, EmbeddedMigrations()));

  // A second writable connection for WAL checkpoints, off the commit path.
  SY_ASSIGN_OR_RETURN(std::unique_ptr<Database> checkpoint_db, Database::Open(db_options));

  std::unique_ptr<SqliteStore> store(new SqliteStore());
  db_options.read_only = true;
  db_options.cache_kib = 16 * 1024;
  for (int i = 0; i < options.read_connections; ++i) {
    SY_ASSIGN_OR_RETURN(std::unique_ptr<Database> reader, Database::Open(db_options));
    store->free_readers_.push_back(reader.get());
    store->readers_.push_back(std::move(reader));
  }
  store->writer_ = std::make_unique<sqlite::GroupWriter>(
      std::move(writer_db), std::move(checkpoint_db), options.writer);
  return store;
}

SqliteStore::~SqliteStore() {
  // Readers first, so that the writer's connection is the last one open: on
  // close it checkpoints the WAL into the file and deletes it. The writer
  // before the name cache, which queued writes would still use.
  free_readers_.clear();
  readers_.clear();
  writer_.reset();
}

absl::Status SqliteStore::Write(const sqlite::GroupWriter::Work& work, int64_t weight) {
  return writer_->Run(work, weight);
}

absl::Status SqliteStore::Read(absl::FunctionRef<absl::Status(Database&)> read) {
  Database* db = nullptr;
  {
    std::unique_lock<std::mutex> lock(readers_mutex_);
    reader_free_.wait(lock, [this] { return !free_readers_.empty(); });
    db = free_readers_.back();
    free_readers_.pop_back();
  }
  // One read transaction: every query of `read` sees the same snapshot.
  absl::Status status = [&]() -> absl::Status {
    SY_ASSIGN_OR_RETURN(ScopedStatement begin, db->Cached(kBeginRead));
    SY_RETURN_IF_ERROR(begin->Run());
    return read(*db);
  }();
  if (db->InTransaction()) {
    absl::StatusOr<ScopedStatement> end = db->Cached(status.ok() ? kEndRead : kRollbackRead);
    absl::Status ended = end.ok() ? (*end)->Run() : end.status();
    if (status.ok()) status = ended;
  }
  (void)db->TakeFatalError();
  {
    std::lock_guard<std::mutex> lock(readers_mutex_);
    free_readers_.push_back(db);
  }
  reader_free_.notify_one();
  return status;
}

// ---- sweeps and jobs

absl::StatusOr<int64_t> SqliteStore::CreateSweep(const SweepRecord& sweep,
                                                 const std::vector<NewJob>& jobs) {
  if (jobs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("sweep '", sweep.name, "' has no jobs"));
  }
  if (sweep.max_attempts < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sweep '", sweep.name, "': max_attempts must be at least 1, not ", sweep.max_attempts));
  }
  {
    absl::flat_hash_set<absl::string_view> keys;
    absl::flat_hash_set<int64_t> indexes;
    for (const NewJob& job : jobs) {
      if (!keys.insert(job.cell_key).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("sweep '", sweep.name, "': cell key '", job.cell_key, "' repeats"));
      }
      if (!indexes.insert(job.cell_index).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("sweep '", sweep.name, "': cell index ", job.cell_index, " repeats"));
      }
    }
  }
  absl::StatusOr<common::SchedulerSpec> scheduler =
      common::SchedulerFromJson(sweep.scheduler_json);
  if (!scheduler.ok()) return scheduler.status();
  // ASHA starts its trials itself, one free slot at a time.
  const bool held = scheduler->kind == common::SchedulerSpec::Kind::kAsha;
  int64_t sweep_id = 0;
  absl::Status status = Write(
      [&](WriteContext& context) -> absl::Status {
        Database& db = context.db();
        {
          SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kInsertSweep));
          stmt->BindText(1, sweep.name);
          stmt->BindInt64(2, sweep.priority);
          stmt->BindInt64(3, sweep.max_attempts);
          stmt->BindText(4, sweep.spec_json);
          stmt->BindTime(5, sweep.created_at);
          stmt->BindText(6, sweep.scheduler_json);
          SY_RETURN_IF_ERROR(stmt->Run());
          sweep_id = db.LastInsertRowId();
        }
        SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kInsertJob));
        for (const NewJob& job : jobs) {
          stmt->BindInt64(1, sweep_id);
          stmt->BindInt64(2, job.cell_index);
          stmt->BindText(3, job.cell_key);
          stmt->BindText(4, job.config_json);
          stmt->BindInt64(5, sweep.priority);
          stmt->BindTime(6, sweep.created_at);
          stmt->BindTime(7, sweep.created_at);
          stmt->BindText(8, job.program);
          stmt->BindBool(9, held);
          absl::Status s = stmt->Run();
          stmt->Reset();
          if (absl::IsAlreadyExists(s)) {
            return absl::InvalidArgumentError(absl::StrCat(
                "sweep '", sweep.name, "': cell '", job.cell_key, "' repeats: ", s.message()));
          }
          SY_RETURN_IF_ERROR(s);
        }
        return absl::OkStatus();
      },
      static_cast<int64_t>(jobs.size()));
  SY_RETURN_IF_ERROR(status);
  return sweep_id;
}

absl::StatusOr<SweepRecord> SqliteStore::GetSweep(int64_t sweep_id) {
  SweepRecord sweep;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    {
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectSweep));
      stmt->BindInt64(1, sweep_id);
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::NotFoundError(absl::StrCat("sweep ", sweep_id, " does not exist"));
      sweep = ReadSweep(*stmt);
    }
    SY_RETURN_IF_ERROR(FillCounts(db, sweep_id, &sweep.counts));
    SY_ASSIGN_OR_RETURN(common::SchedulerSpec scheduler, scheduling::LoadScheduler(db, sweep_id));
    SY_ASSIGN_OR_RETURN(sweep.rungs, scheduling::LoadRungs(db, sweep_id, scheduler));
    return absl::OkStatus();
  }));
  return sweep;
}

absl::StatusOr<std::vector<SweepRecord>> SqliteStore::ListSweeps() {
  std::vector<SweepRecord> sweeps;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    absl::flat_hash_map<int64_t, size_t> index;
    {
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectSweeps));
      while (true) {
        SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        sweeps.push_back(ReadSweep(*stmt));
        index[sweeps.back().id] = sweeps.size() - 1;
      }
    }
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kCountJobsOfAllSweeps));
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::OkStatus();
      auto it = index.find(stmt->ColumnInt64(0));
      if (it == index.end()) continue;
      SY_ASSIGN_OR_RETURN(JobState state, ToJobState(stmt->ColumnInt64(1)));
      sweeps[it->second].counts.For(state) = stmt->ColumnInt64(2);
    }
  }));
  return sweeps;
}

absl::StatusOr<std::vector<JobRecord>> SqliteStore::ListJobs(int64_t sweep_id,
                                                             std::optional<JobState> state) {
  std::vector<JobRecord> jobs;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    SY_RETURN_IF_ERROR(Exists(db, kSweepExists, sweep_id, "sweep"));
    absl::flat_hash_map<int64_t, size_t> index;
    {
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt,
                          db.Cached(state ? kSelectJobsOfSweepInState : kSelectJobsOfSweep));
      stmt->BindInt64(1, sweep_id);
      if (state) stmt->BindInt64(2, static_cast<int64_t>(*state));
      while (true) {
        SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        SY_ASSIGN_OR_RETURN(JobRow job, ReadJobRow(*stmt));
        jobs.push_back(std::move(job.record));
        index[jobs.back().id] = jobs.size() - 1;
      }
    }
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kFinalMetricsOfSweep));
    stmt->BindInt64(1, sweep_id);
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::OkStatus();
      auto it = index.find(stmt->ColumnInt64(0));
      if (it == index.end()) continue;  // filtered out by state
      jobs[it->second].final_metrics[stmt->ColumnText(1)] = MetricValue(*stmt, 2);
    }
  }));
  return jobs;
}

absl::StatusOr<JobRecord> SqliteStore::GetJob(int64_t job_id) {
  JobRecord job;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    SY_ASSIGN_OR_RETURN(JobRow row, LoadJob(db, job_id));
    job = std::move(row.record);
    SY_RETURN_IF_ERROR(FillFinalMetrics(db, &job));
    SY_ASSIGN_OR_RETURN(job.decisions, scheduling::LoadDecisions(db, job_id));
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectAttemptsOfJob));
    stmt->BindInt64(1, job_id);
    while (true) {
      SY_ASSIGN_OR_RETURN(bool more, stmt->Step());
      if (!more) return absl::OkStatus();
      AttemptRecord a;
      a.id = stmt->ColumnInt64(0);
      a.job_id = stmt->ColumnInt64(1);
      a.number = static_cast<int32_t>(stmt->ColumnInt64(2));
      a.worker_id = stmt->ColumnInt64(3);
      a.worker_name = stmt->ColumnText(4);
      a.device = stmt->ColumnText(5);
      SY_ASSIGN_OR_RETURN(a.outcome, ToOutcome(stmt->ColumnInt64(6)));
      a.cause = stmt->ColumnText(7);
      a.started_at = stmt->ColumnTime(8);
      if (!stmt->ColumnIsNull(9)) a.ended_at = stmt->ColumnTime(9);
      a.resumed_from_step = stmt->ColumnInt64(10);
      job.attempts.push_back(std::move(a));
    }
  }));
  return job;
}

// ---- workers

absl::StatusOr<int64_t> SqliteStore::RegisterWorker(const WorkerRecord& worker) {
  const std::string devices = DevicesJson(worker.devices);
  int64_t id = 0;
  SY_RETURN_IF_ERROR(Write([&](WriteContext& context) -> absl::Status {
    Database& db = context.db();
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kInsertWorker));
    stmt->BindText(1, worker.name);
    stmt->BindText(2, worker.hostname);
    stmt->BindText(3, devices);
    stmt->BindText(4, worker.build_version);
    stmt->BindText(5, worker.trainer_version);
    stmt->BindText(6, worker.cuda_version);
    stmt->BindBool(7, worker.draining);
    stmt->BindInt64(8, worker.slots_busy);
    stmt->BindTime(9, worker.registered_at);
    stmt->BindTime(10, worker.last_seen);
    stmt->BindText(11, ProgramsJson(worker.programs));
    SY_RETURN_IF_ERROR(stmt->Run());
    id = db.LastInsertRowId();
    return absl::OkStatus();
  }));
  return id;
}

absl::Status SqliteStore::TouchWorker(int64_t worker_id, bool draining, int32_t slots_busy,
                                      absl::Time now) {
  return Write([&](WriteContext& context) -> absl::Status {
    Database& db = context.db();
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kTouchWorker));
    stmt->BindBool(1, draining);
    stmt->BindInt64(2, slots_busy);
    stmt->BindTime(3, now);
    stmt->BindInt64(4, worker_id);
    SY_RETURN_IF_ERROR(stmt->Run());
    if (db.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("worker ", worker_id, " does not exist"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<WorkerRecord> SqliteStore::GetWorker(int64_t worker_id) {
  WorkerRecord worker;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectWorker));
    stmt->BindInt64(1, worker_id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::NotFoundError(absl::StrCat("worker ", worker_id, " does not exist"));
    SY_ASSIGN_OR_RETURN(worker, ReadWorker(*stmt));
    return absl::OkStatus();
  }));
  return worker;
}

absl::StatusOr<std::vector<WorkerRecord>> SqliteStore::ListWorkers() {
  std::vector<WorkerRecord> workers;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    absl::flat_hash_map<int64_t, size_t> index;
    {
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectWorkers));
      while (true) {
        SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        SY_ASSIGN_OR_RETURN(WorkerRecord worker, ReadWorker(*stmt));
        index[worker.id] = workers.size();
        workers.push_back(std::move(worker));
      }
    }
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kCountRunningAttemptsByDevice));
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::OkStatus();
      auto it = index.find(stmt->ColumnInt64(0));
      if (it == index.end()) continue;
      const std::string device = stmt->ColumnText(1);
      for (DeviceRecord& d : workers[it->second].devices) {
        if (d.name == device) d.slots_busy = static_cast<int32_t>(stmt->ColumnInt64(2));
      }
    }
  }));
  return workers;
}

// ---- the job life cycle

absl::StatusOr<bool> SqliteStore::UnquarantineWorker(int64_t worker_id) {
  bool was = false;
  SY_RETURN_IF_ERROR(Write([&](WriteContext& context) -> absl::Status {
    Database& db = context.db();
    absl::Status may = CheckMayClaim(db, worker_id).status();
    if (!may.ok() && !absl::IsFailedPrecondition(may)) return may;
    was = !may.ok();
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kUnquarantineWorker));
    stmt->BindInt64(1, worker_id);
    return stmt->Run();
  }));
  return was;
}

absl::StatusOr<std::optional<Assignment>> SqliteStore::ClaimJob(const ClaimParams& params) {
  std::optional<Assignment> assignment;
  SY_RETURN_IF_ERROR(Write([&](WriteContext& context) -> absl::Status {
    SY_ASSIGN_OR_RETURN(assignment, ClaimNextPending(context.db(), params));
    return absl::OkStatus();
  }));
  return assignment;
}

absl::StatusOr<std::vector<Order>> SqliteStore::RenewLeases(
    int64_t worker_id, const std::vector<AttemptRef>& attempts, absl::Time lease_expires,
    absl::Time now) {
  std::vector<Order> orders;
  SY_RETURN_IF_ERROR(Write(
      [&](WriteContext& context) -> absl::Status {
        Database& db = context.db();
        orders.clear();
        SY_RETURN_IF_ERROR(Exists(db, kWorkerExists, worker_id, "worker"));
        for (const AttemptRef& ref : attempts) {
          absl::StatusOr<FencedAttempt> fenced = CheckFencing(db, ref);
          if (!fenced.ok()) {
            if (!absl::IsNotFound(fenced.status()) &&
                !absl::IsFailedPrecondition(fenced.status())) {
              return fenced.status();
            }
            orders.push_back({ref.attempt_id, OrderKind::kAbandon});
            continue;
          }
          if (fenced->worker_id != worker_id) {
            orders.push_back({ref.attempt_id, OrderKind::kAbandon});
            continue;
          }
          if (fenced->cancel_requested) {
            orders.push_back({ref.attempt_id, OrderKind::kCancel});
          } else {
            // The median rule judges each new epoch here, once per heartbeat.
            SY_ASSIGN_OR_RETURN(bool stop, scheduling::JudgeMedian(db, fenced->job_id, now));
            if (stop) orders.push_back({ref.attempt_id, OrderKind::kStop});
          }
          SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kRenewLease));
          stmt->BindTime(1, lease_expires);
          stmt->BindInt64(2, ref.attempt_id);
          SY_RETURN_IF_ERROR(stmt->Run());
        }
        return absl::OkStatus();
      },
      static_cast<int64_t>(attempts.size()) + 1));
  return orders;
}

absl::StatusOr<JobState> SqliteStore::FinishAttempt(const AttemptRef& ref, AttemptOutcome outcome,
                                                    const std::string& cause,
                                                    const std::string& summary_json,
                                                    absl::Time now) {
  JobState state = JobState::kRunning;
  SY_RETURN_IF_ERROR(Write([&](WriteContext& context) -> absl::Status {
    SY_ASSIGN_OR_RETURN(
        state, FinishRunningAttempt(context.db(), ref, outcome, cause, summary_json, now));
    return absl::OkStatus();
  }));
  return state;
}

absl::StatusOr<Store::FinishAndClaimResult> SqliteStore::FinishAttemptAndClaim(
    const AttemptRef& ref, AttemptOutcome outcome, const std::string& cause,
    const std::string& summary_json, const ClaimParams& next) {
  FinishAndClaimResult result;
  SY_RETURN_IF_ERROR(Write(
      [&](WriteContext& context) -> absl::Status {
        Database& db = context.db();
        SY_ASSIGN_OR_RETURN(result.state, FinishRunningAttempt(db, ref, outcome, cause,
                                                               summary_json, next.now));
        absl::StatusOr<std::optional<Assignment>> claimed = ClaimNextPending(db, next);
        // Quarantined (perhaps by this very finish): the finish stands, and
        // the worker's next ClaimJob says why it gets nothing.
        if (absl::IsFailedPrecondition(claimed.status())) return absl::OkStatus();
        SY_ASSIGN_OR_RETURN(result.next, std::move(claimed));
        return absl::OkStatus();
      },
      2));
  return result;
}

absl::StatusOr<int64_t> SqliteStore::ExpireLeases(absl::Time now) {
  int64_t expired = 0;
  SY_RETURN_IF_ERROR(Write([&](WriteContext& context) -> absl::Status {
    Database& db = context.db();
    expired = 0;
    struct Expired {
      int64_t attempt_id, job_id, worker_id;
    };
    std::vector<Expired> attempts;
    {
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectExpiredAttempts));
      stmt->BindTime(1, now);
      while (true) {
        SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        attempts.push_back({stmt->ColumnInt64(0), stmt->ColumnInt64(1), stmt->ColumnInt64(2)});
      }
    }
    for (const auto& [attempt_id, job_id, worker_id] : attempts) {
      SY_ASSIGN_OR_RETURN(JobRow job, LoadJob(db, job_id));
      if (job.current_attempt_id != attempt_id) {
        // A running attempt that is not its job's current one breaks an
        // invariant every write keeps; refuse rather than guess.
        return absl::InternalError(absl::StrCat("attempt ", attempt_id, " is running but job ",
                                                job_id, " does not point at it"));
      }
      SY_RETURN_IF_ERROR(
          EndAttempt(db, job.record, attempt_id, worker_id, AttemptOutcome::kLost,
                     "lease expired", "", now)
              .status());
      ++expired;
    }
    return absl::OkStatus();
  }));
  return expired;
}

absl::StatusOr<CancelResult> SqliteStore::Cancel(int64_t sweep_id, int64_t job_id,
                                                 absl::Time now) {
  if ((sweep_id == 0) == (job_id == 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Cancel needs exactly one of a sweep id and a job id (got sweep ", sweep_id,
                     ", job ", job_id, ")"));
  }
  CancelResult result;
  SY_RETURN_IF_ERROR(Write([&](WriteContext& context) -> absl::Status {
    Database& db = context.db();
    result = CancelResult{};
    // (job, state, cancel_requested) of every job to act on.
    struct Target {
      int64_t id;
      JobState state;
      bool cancel_requested;
    };
    std::vector<Target> targets;
    int64_t owning_sweep = sweep_id;
    if (job_id != 0) {
      SY_ASSIGN_OR_RETURN(JobRow job, LoadJob(db, job_id));
      owning_sweep = job.record.sweep_id;
      if (job.record.state == JobState::kCancelled) return absl::OkStatus();
      targets.push_back({job_id, job.record.state, job.record.cancel_requested});
    } else {
      SY_RETURN_IF_ERROR(Exists(db, kSweepExists, sweep_id, "sweep"));
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectUnfinishedJobsOfSweep));
      stmt->BindInt64(1, sweep_id);
      while (true) {
        SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        SY_ASSIGN_OR_RETURN(JobState state, ToJobState(stmt->ColumnInt64(1)));
        targets.push_back({stmt->ColumnInt64(0), state, stmt->ColumnBool(2)});
      }
    }
    for (const Target& t : targets) {
      if (t.state == JobState::kRunning) {
        // A running job stops through its worker: the next heartbeat carries
        // the order, and FinishAttempt applies the end.
        if (!t.cancel_requested) {
          SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kRequestCancel));
          stmt->BindTime(1, now);
          stmt->BindInt64(2, t.id);
          SY_RETURN_IF_ERROR(stmt->Run());
        }
        ++result.cancel_ordered;
        continue;
      }
      SY_RETURN_IF_ERROR(CheckTransition(t.id, t.state, JobState::kCancelled));
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kCancelPendingJob));
      stmt->BindTime(1, now);
      stmt->BindInt64(2, t.id);
      SY_RETURN_IF_ERROR(stmt->Run());
      ++result.cancelled_pending;
    }
    return scheduling::MaybeFinishSweep(db, owning_sweep, now);
  }));
  return result;
}

absl::StatusOr<int64_t> SqliteStore::Retry(int64_t sweep_id, const std::vector<JobState>& states,
                                           absl::Time now) {
  std::vector<JobState> wanted = states;
  if (wanted.empty()) wanted = {JobState::kFailed, JobState::kLost};
  for (JobState s : wanted) {
    if (s != JobState::kFailed && s != JobState::kLost && s != JobState::kStopped) {
      return absl::InvalidArgumentError(
          absl::StrCat("Retry takes failed, lost or stopped jobs, not ", JobStateName(s)));
    }
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  int64_t retried = 0;
  SY_RETURN_IF_ERROR(Write([&](WriteContext& context) -> absl::Status {
    Database& db = context.db();
    retried = 0;
    SY_RETURN_IF_ERROR(Exists(db, kSweepExists, sweep_id, "sweep"));
    for (JobState from : wanted) {
      std::vector<int64_t> ids;
      {
        SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectJobsOfSweepInStateIds));
        stmt->BindInt64(1, sweep_id);
        stmt->BindInt64(2, static_cast<int64_t>(from));
        while (true) {
          SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          ids.push_back(stmt->ColumnInt64(0));
        }
      }
      for (int64_t id : ids) {
        SY_RETURN_IF_ERROR(CheckTransition(id, from, JobState::kPending));
        SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kRetryJob));
        stmt->BindTime(1, now);
        stmt->BindInt64(2, id);
        stmt->BindInt64(3, static_cast<int64_t>(from));
        SY_RETURN_IF_ERROR(stmt->Run());
        ++retried;
      }
    }
    if (retried > 0) {
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kUnfinishSweep));
      stmt->BindInt64(1, sweep_id);
      SY_RETURN_IF_ERROR(stmt->Run());
    }
    return absl::OkStatus();
  }));
  return retried;
}

absl::StatusOr<int64_t> SqliteStore::JobOfRunningAttempt(const AttemptRef& ref) {
  int64_t job_id = 0;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    SY_ASSIGN_OR_RETURN(FencedAttempt fenced, CheckFencing(db, ref));
    job_id = fenced.job_id;
    return absl::OkStatus();
  }));
  return job_id;
}

StoreStats SqliteStore::Stats() const {
  const sqlite::GroupWriter::Latency latency = writer_->GroupLatency();
  StoreStats stats;
  stats.commit_bucket_bounds.assign(std::begin(sqlite::GroupWriter::kLatencyBounds),
                                    std::end(sqlite::GroupWriter::kLatencyBounds));
  stats.commit_bucket_counts = latency.cumulative;
  stats.commits = latency.count;
  stats.commit_seconds_sum = latency.seconds_sum;
  return stats;
}

// ---- metrics

absl::StatusOr<int64_t> SqliteStore::MetricNameId(WriteContext& context, const std::string& name) {
  if (auto it = metric_name_ids_.find(name); it != metric_name_ids_.end()) return it->second;
  Database& db = context.db();
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kInsertMetricName));
    stmt->BindText(1, name);
    SY_RETURN_IF_ERROR(stmt->Run());
  }
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectMetricName));
  stmt->BindText(1, name);
  SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::InternalError(absl::StrCat("metric name '", name, "' vanished"));
  const int64_t id = stmt->ColumnInt64(0);
  // Cached only once committed: a rolled-back group takes the row with it.
  context.OnCommit([this, name, id] { metric_name_ids_.emplace(name, id); });
  return id;
}

absl::StatusOr<std::vector<absl::Status>> SqliteStore::AppendMetrics(
    const std::vector<MetricBatchWrite>& batches) {
  if (batches.empty()) return std::vector<absl::Status>();
  int64_t weight = 1;
  for (const MetricBatchWrite& b : batches) weight += static_cast<int64_t>(b.points.size());
  std::vector<absl::Status> statuses;
  SY_RETURN_IF_ERROR(Write(
      [&](WriteContext& context) -> absl::Status {
        Database& db = context.db();
        statuses.assign(batches.size(), absl::OkStatus());
        for (size_t i = 0; i < batches.size(); ++i) {
          const MetricBatchWrite& batch = batches[i];
          absl::StatusOr<FencedAttempt> fenced = CheckFencing(db, batch.attempt);
          if (!fenced.ok()) {
            if (!absl::IsNotFound(fenced.status()) &&
                !absl::IsFailedPrecondition(fenced.status())) {
              return fenced.status();
            }
            statuses[i] = fenced.status();
            continue;
          }
          bool valid = true;
          for (const MetricPoint& p : batch.points) {
            if (p.name.empty() || p.step < 0) {
              statuses[i] = absl::InvalidArgumentError(absl::StrCat(
                  "attempt ", batch.attempt.attempt_id, ": metric point '", p.name, "' at step ",
                  p.step, ": names must not be empty and steps not negative"));
              valid = false;
              break;
            }
          }
          if (!valid) continue;
          // Inserted in key order (name, step) rather than as sent (step by
          // step across names): each insert then lands next to the previous
          // one in the metrics B-tree. The sort is stable, so among repeats
          // of a (name, step) the first one sent is inserted first and kept.
          std::vector<std::pair<int64_t, const MetricPoint*>> sorted;
          sorted.reserve(batch.points.size());
          for (const MetricPoint& p : batch.points) {
            SY_ASSIGN_OR_RETURN(int64_t name_id, MetricNameId(context, p.name));
            sorted.emplace_back(name_id, &p);
          }
          std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first < b.first : a.second->step < b.second->step;
          });
          SY_ASSIGN_OR_RETURN(ScopedStatement insert, db.Cached(kInsertMetric));
          SY_ASSIGN_OR_RETURN(ScopedStatement upsert, db.Cached(kUpsertMetricLast));
          for (size_t k = 0; k < sorted.size(); ++k) {
            const auto& [name_id, p] = sorted[k];
            insert->BindInt64(1, fenced->job_id);
            insert->BindInt64(2, name_id);
            insert->BindInt64(3, p->step);
            insert->BindDouble(4, p->value);
            insert->BindDouble(5, p->wall_time);
            SY_RETURN_IF_ERROR(insert->Run());
            insert->Reset();
            // The first point at the highest step of a name (the last step
            // of its run) also goes to metric_last.
            const bool last_of_name = k + 1 == sorted.size() || sorted[k + 1].first != name_id;
            if (!last_of_name) continue;
            size_t first = k;
            while (first > 0 && sorted[first - 1].first == name_id &&
                   sorted[first - 1].second->step == p->step) {
              --first;
            }
            const MetricPoint* kept = sorted[first].second;
            upsert->BindInt64(1, fenced->job_id);
            upsert->BindInt64(2, name_id);
            upsert->BindInt64(3, kept->step);
            upsert->BindDouble(4, kept->value);
            upsert->BindDouble(5, kept->wall_time);
            SY_RETURN_IF_ERROR(upsert->Run());
            upsert->Reset();
          }
        }
        return absl::OkStatus();
      },
      weight));
  return statuses;
}

absl::Status SqliteStore::QueryMetrics(
    const MetricQuery& query, size_t chunk,
    const std::function<bool(const std::vector<JobMetricPoint>&)>& sink) {
  if (chunk == 0) return absl::InvalidArgumentError("QueryMetrics: chunk must be at least 1");
  std::vector<int64_t> job_ids;
  absl::flat_hash_set<absl::string_view> names(query.names.begin(), query.names.end());
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    SY_ASSIGN_OR_RETURN(job_ids, JobsOfQuery(db, query));
    return absl::OkStatus();
  }));
  const int64_t first_after = query.after_step.value_or(-1);

  // The cursor: the job, its names (in name order) and the last step sent.
  // Each chunk is read in its own short read transaction; points are never
  // updated or deleted, so resuming after (job, name, step) loses nothing.
  size_t job_index = 0;
  std::vector<std::pair<int64_t, std::string>> job_names;  // (name id, name)
  bool names_loaded = false;
  size_t name_index = 0;
  int64_t after_step = first_after;
  std::vector<JobMetricPoint> points;
  points.reserve(std::min<size_t>(chunk, 65536));
  while (job_index < job_ids.size()) {
    points.clear();
    SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
      while (job_index < job_ids.size() && points.size() < chunk) {
        const int64_t job_id = job_ids[job_index];
        if (!names_loaded) {
          job_names.clear();
          SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectMetricNamesOfJob));
          stmt->BindInt64(1, job_id);
          while (true) {
            SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
            if (!row) break;
            std::string name = stmt->ColumnText(1);
            if (!names.empty() && !names.contains(name)) continue;
            job_names.emplace_back(stmt->ColumnInt64(0), std::move(name));
          }
          names_loaded = true;
          name_index = 0;
          after_step = first_after;
        }
        if (name_index >= job_names.size()) {
          ++job_index;
          names_loaded = false;
          continue;
        }
        const auto& [name_id, name] = job_names[name_index];
        const size_t limit = chunk - points.size();
        SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(query.wall_time ? kSelectMetricPoints
                                                                            : kSelectMetricValues));
        stmt->BindInt64(1, job_id);
        stmt->BindInt64(2, name_id);
        stmt->BindInt64(3, after_step);
        stmt->BindInt64(4, static_cast<int64_t>(limit));
        size_t got = 0;
        while (true) {
          SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          JobMetricPoint p;
          p.job_id = job_id;
          p.point.name = name;
          p.point.step = stmt->ColumnInt64(0);
          p.point.value = MetricValue(*stmt, 1);
          if (query.wall_time) p.point.wall_time = stmt->ColumnDouble(2);
          after_step = p.point.step;
          points.push_back(std::move(p));
          ++got;
        }
        if (got < limit) {
          ++name_index;
          after_step = first_after;
        }
      }
      return absl::OkStatus();
    }));
    if (points.empty()) break;
    if (!sink(points)) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SeriesCount>> SqliteStore::CountMetrics(const MetricQuery& query) {
  absl::flat_hash_set<absl::string_view> names(query.names.begin(), query.names.end());
  std::vector<SeriesCount> counts;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    counts.clear();
    SY_ASSIGN_OR_RETURN(std::vector<int64_t> job_ids, JobsOfQuery(db, query));
    for (int64_t job_id : job_ids) {
      std::vector<std::pair<int64_t, std::string>> job_names;  // (name id, name), by name
      {
        SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectMetricNamesOfJob));
        stmt->BindInt64(1, job_id);
        while (true) {
          SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          std::string name = stmt->ColumnText(1);
          if (!names.empty() && !names.contains(name)) continue;
          job_names.emplace_back(stmt->ColumnInt64(0), std::move(name));
        }
      }
      for (auto& [name_id, name] : job_names) {
        SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kCountMetricPoints));
        stmt->BindInt64(1, job_id);
        stmt->BindInt64(2, name_id);
        stmt->BindInt64(3, query.after_step.value_or(-1));
        SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) return absl::InternalError("COUNT returned no row");
        counts.push_back(SeriesCount{job_id, std::move(name), stmt->ColumnInt64(0)});
      }
    }
    return absl::OkStatus();
  }));
  return counts;
}

absl::StatusOr<AttemptOwner> SqliteStore::OwnerOfAttempt(int64_t attempt_id) {
  AttemptOwner owner;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectAttemptOwner));
    stmt->BindInt64(1, attempt_id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::NotFoundError(absl::StrCat("attempt ", attempt_id, " does not exist"));
    owner.job_id = stmt->ColumnInt64(0);
    owner.sweep_id = stmt->ColumnInt64(1);
    return absl::OkStatus();
  }));
  return owner;
}

// ---- checkpoints

absl::StatusOr<std::vector<CheckpointRecord>> SqliteStore::ListCheckpoints(int64_t job_id) {
  std::vector<CheckpointRecord> checkpoints;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    checkpoints.clear();
    SY_RETURN_IF_ERROR(Exists(db, kJobExists, job_id, "job"));
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectCheckpointsOfJob));
    stmt->BindInt64(1, job_id);
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::OkStatus();
      checkpoints.push_back(ReadCheckpoint(*stmt));
    }
  }));
  return checkpoints;
}

absl::StatusOr<int64_t> SqliteStore::AddCheckpoint(const AttemptRef& ref, int64_t step,
                                                   int64_t size_bytes, const std::string& sha256,
                                                   const std::string& path, absl::Time now) {
  if (step < 0 || size_bytes < 0 || path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attempt ", ref.attempt_id, ": checkpoint at step ", step, " of ", size_bytes,
        " bytes at '", path, "': step and size must not be negative, path not empty"));
  }
  int64_t id = 0;
  SY_RETURN_IF_ERROR(Write([&](WriteContext& context) -> absl::Status {
    Database& db = context.db();
    SY_ASSIGN_OR_RETURN(FencedAttempt fenced, CheckFencing(db, ref));
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kInsertCheckpoint));
    stmt->BindInt64(1, fenced.job_id);
    stmt->BindInt64(2, ref.attempt_id);
    stmt->BindInt64(3, step);
    stmt->BindInt64(4, size_bytes);
    stmt->BindText(5, sha256);
    stmt->BindText(6, path);
    stmt->BindTime(7, now);
    SY_RETURN_IF_ERROR(stmt->Run());
    id = db.LastInsertRowId();
    return absl::OkStatus();
  }));
  return id;
}

absl::StatusOr<CheckpointRecord> SqliteStore::GetCheckpointFor(const AttemptRef& ref,
                                                               int64_t checkpoint_id) {
  CheckpointRecord checkpoint;
  SY_RETURN_IF_ERROR(Read([&](Database& db) -> absl::Status {
    SY_ASSIGN_OR_RETURN(FencedAttempt fenced, CheckFencing(db, ref));
    SY_ASSIGN_OR_RETURN(checkpoint, LoadCheckpoint(db, checkpoint_id));
    if (checkpoint.job_id != fenced.job_id) {
      return absl::PermissionDeniedError(
          absl::StrCat("checkpoint ", checkpoint_id, " belongs to job ", checkpoint.job_id,
                       ", not to job ", fenced.job_id, " of attempt ", ref.attempt_id));
    }
    return absl::OkStatus();
  }));
  return checkpoint;
}

absl::StatusOr<std::vector<std::string>> SqliteStore::PruneCheckpoints(int64_t job_id, int keep) {
  if (keep < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", job_id, ": cannot keep ", keep, " checkpoints"));
  }
  std::vector<std::string> paths;
  SY_RETURN_IF_ERROR(Write([&](WriteContext& context) -> absl::Status {
    Database& db = context.db();
    paths.clear();
    SY_RETURN_IF_ERROR(Exists(db, kJobExists, job_id, "job"));
    std::vector<std::pair<int64_t, std::string>> doomed;  // newest first
    {
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectCheckpointsNewestFirst));
      stmt->BindInt64(1, job_id);
      int seen = 0;
      while (true) {
        SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        if (seen++ < keep) continue;
        doomed.emplace_back(stmt->ColumnInt64(0), stmt->ColumnText(1));
      }
    }
    for (auto it = doomed.rbegin(); it != doomed.rend(); ++it) {
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kDeleteCheckpoint));
      stmt->BindInt64(1, it->first);
      SY_RETURN_IF_ERROR(stmt->Run());
      paths.push_back(it->second);
    }
    return absl::OkStatus();
  }));
  return paths;
}

}  // namespace switchyard::server
