#include "server/store/scheduling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "server/core/early_stopping.h"
#include "server/core/state_machine.h"

namespace switchyard::server::scheduling {
namespace {

using common::SchedulerSpec;
using sqlite::Database;
using sqlite::ScopedStatement;

constexpr char kSelectSchedulerOfSweep[] = "SELECT scheduler_json FROM sweeps WHERE id = ?";
constexpr char kSelectScheduledSweeps[] =
    "SELECT id, priority, scheduler_json FROM sweeps "
    "WHERE scheduler_json != '' AND finished_at IS NULL ORDER BY priority DESC, id";
constexpr char kSelectTrials[] =
    "SELECT id, state, scheduler_held, program FROM jobs WHERE sweep_id = ? ORDER BY id";
constexpr char kSelectRungResultsOfSweep[] =
    "SELECT r.job_id, r.rung, r.value FROM rung_results r JOIN jobs j ON j.id = r.job_id "
    "WHERE j.sweep_id = ? ORDER BY r.job_id, r.rung";
constexpr char kSelectProgramOfJob[] = "SELECT program FROM jobs WHERE id = ?";
constexpr char kSelectMetricLastByName[] =
    "SELECT l.value FROM metric_last l JOIN metric_names n ON n.id = l.name_id "
    "WHERE l.job_id = ? AND n.name = ?";
constexpr char kUpsertRungResult[] =
    "INSERT INTO rung_results (job_id, rung, epoch, value, recorded_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (job_id, rung) DO UPDATE SET epoch = excluded.epoch, value = excluded.value, "
    "recorded_at = excluded.recorded_at";
constexpr char kInsertDecision[] =
    "INSERT INTO schedule_decisions (sweep_id, job_id, kind, rung, epoch, value, reason, "
    "inputs_json, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kStopPausedJob[] =
    "UPDATE jobs SET state = 8, last_cause = ?, updated_at = ? WHERE id = ? AND state = 7";
constexpr char kSweepHasActiveJobs[] =
    "SELECT EXISTS (SELECT 1 FROM jobs WHERE sweep_id = ? AND state IN (1, 2))";
constexpr char kSweepHasUnfinishedJobs[] =
    "SELECT EXISTS (SELECT 1 FROM jobs WHERE sweep_id = ? AND state IN (1, 2, 7))";
constexpr char kFinishSweep[] =
    "UPDATE sweeps SET finished_at = ? WHERE id = ? AND finished_at IS NULL";
constexpr char kSelectMedianJob[] =
    "SELECT j.sweep_id, j.stop_requested, j.judged_epoch, s.scheduler_json FROM jobs j "
    "JOIN sweeps s ON s.id = j.sweep_id WHERE j.id = ?";
constexpr char kSelectNameId[] = "SELECT id FROM metric_names WHERE name = ?";
constexpr char kSelectLastEpoch[] =
    "SELECT value FROM metric_last WHERE job_id = ? AND name_id = ?";
// The job's metric at each epoch: the value logged at the step its epoch
// point was logged at (an epoch line carries both).
constexpr char kSelectCurve[] =
    "SELECT e.value, m.value FROM metrics e JOIN metrics m "
    "ON m.job_id = e.job_id AND m.name_id = ? AND m.step = e.step "
    "WHERE e.job_id = ? AND e.name_id = ? ORDER BY e.step";
constexpr char kSelectOthersAtEpoch[] =
    "SELECT e.job_id, m.value FROM jobs j "
    "JOIN metrics e ON e.job_id = j.id AND e.name_id = ? AND e.value = ? "
    "JOIN metrics m ON m.job_id = e.job_id AND m.name_id = ? AND m.step = e.step "
    "WHERE j.sweep_id = ? AND j.id != ? ORDER BY e.job_id, e.step";
constexpr char kSetJudged[] =
    "UPDATE jobs SET judged_epoch = ?, stop_requested = ?, updated_at = ? WHERE id = ?";
constexpr char kCountReached[] =
    "SELECT r.rung, COUNT(*) FROM rung_results r JOIN jobs j ON j.id = r.job_id "
    "WHERE j.sweep_id = ? GROUP BY r.rung ORDER BY r.rung";
constexpr char kCountDecisionsByRung[] =
    "SELECT kind, rung, COUNT(DISTINCT job_id) FROM schedule_decisions "
    "WHERE sweep_id = ? AND kind IN ('promote', 'stop') GROUP BY kind, rung ORDER BY kind, rung";
constexpr char kCountPausedByRung[] =
    "SELECT (SELECT MAX(r.rung) FROM rung_results r WHERE r.job_id = j.id) AS k, COUNT(*) "
    "FROM jobs j WHERE j.sweep_id = ? AND j.state = 7 GROUP BY k ORDER BY k";
constexpr char kSelectPromotedJobs[] =
    "SELECT rung, job_id FROM schedule_decisions WHERE sweep_id = ? AND kind = 'promote' "
    "ORDER BY id";
constexpr char kSelectDecisionsOfJob[] =
    "SELECT id, sweep_id, job_id, kind, rung, epoch, value, reason, inputs_json, decided_at "
    "FROM schedule_decisions WHERE job_id = ? ORDER BY id";

// A sweep's scheduler_json as written by CreateSweep; anything else is a
// corrupt database.
absl::StatusOr<SchedulerSpec> StoredScheduler(int64_t sweep_id, const std::string& text) {
  absl::StatusOr<SchedulerSpec> spec = common::SchedulerFromJson(text);
  if (!spec.ok()) {
    return absl::InternalError(
        absl::StrCat("corrupt database: sweep ", sweep_id, ": ", spec.status().message()));
  }
  return spec;
}

double NullableValue(const sqlite::Statement& stmt, int column) {
  return stmt.ColumnIsNull(column) ? std::numeric_limits<double>::quiet_NaN()
                                   : stmt.ColumnDouble(column);
}

// JSON has no NaN: a missing metric is null.
nlohmann::json JsonNumber(double v) { return std::isfinite(v) ? nlohmann::json(v) : nullptr; }

absl::Status WriteDecision(Database& db, const DecisionRecord& d) {
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kInsertDecision));
  stmt->BindInt64(1, d.sweep_id);
  stmt->BindInt64(2, d.job_id);
  stmt->BindText(3, d.kind);
  stmt->BindInt64(4, d.rung);
  stmt->BindInt64(5, d.epoch);
  stmt->BindDouble(6, d.value);  // NaN is stored as NULL
  stmt->BindText(7, d.reason);
  stmt->BindText(8, d.inputs_json);
  stmt->BindTime(9, d.decided_at);
  return stmt->Run();
}

// Every job of an ASHA sweep as the policy sees it. Held trials whose
// program is not in `programs` (when given) are left out: this worker could
// not start them, and they have no rung results to count.
absl::StatusOr<std::vector<TrialState>> LoadTrials(Database& db, int64_t sweep_id,
                                                   const std::vector<std::string>* programs) {
  std::vector<TrialState> trials;
  std::map<int64_t, size_t> index;
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectTrials));
    stmt->BindInt64(1, sweep_id);
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      TrialState t;
      t.job_id = stmt->ColumnInt64(0);
      SY_ASSIGN_OR_RETURN(JobState state, JobStateFromDb(stmt->ColumnInt64(1)));
      const bool held = stmt->ColumnBool(2);
      switch (state) {
        case JobState::kPending:
          if (held && programs != nullptr &&
              std::find(programs->begin(), programs->end(), stmt->ColumnText(3)) ==
                  programs->end()) {
            continue;
          }
          // A requeued job (lost, preempted) still trains toward its rung.
          t.phase = held ? TrialState::kNotStarted : TrialState::kRunning;
          break;
        case JobState::kRunning: t.phase = TrialState::kRunning; break;
        case JobState::kPaused: t.phase = TrialState::kPaused; break;
        case JobState::kSucceeded: t.phase = TrialState::kDone; break;
        case JobState::kFailed:
        case JobState::kCancelled: t.phase = TrialState::kFailed; break;
        case JobState::kLost: t.phase = TrialState::kLost; break;
        case JobState::kStopped: t.phase = TrialState::kStopped; break;
      }
      index[t.job_id] = trials.size();
      trials.push_back(std::move(t));
    }
  }
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectRungResultsOfSweep));
  stmt->BindInt64(1, sweep_id);
  while (true) {
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    auto it = index.find(stmt->ColumnInt64(0));
    if (it == index.end()) continue;
    TrialState& t = trials[it->second];
    const int rung = static_cast<int>(stmt->ColumnInt64(1));
    t.value_at_rung[rung] = NullableValue(*stmt, 2);
    t.rung = std::max(t.rung, rung);
  }
  return trials;
}

// The rung ranking a decision at rung k was made from: [[job, value], ...]
// best first, as the policy ranks it.
nlohmann::json RungInputs(const std::vector<TrialState>& trials, int rung, bool maximize) {
  std::vector<std::pair<int64_t, double>> values;
  for (const TrialState& t : trials) {
    auto it = t.value_at_rung.find(rung);
    if (it != t.value_at_rung.end()) values.emplace_back(t.job_id, it->second);
  }
  std::sort(values.begin(), values.end(), [maximize](const auto& a, const auto& b) {
    const bool an = std::isnan(a.second), bn = std::isnan(b.second);
    if (an != bn) return bn;
    if (!an && a.second != b.second) return maximize ? a.second > b.second : a.second < b.second;
    return a.first < b.first;
  });
  nlohmann::json ranked = nlohmann::json::array();
  for (const auto& [job, value] : values) ranked.push_back({job, JsonNumber(value)});
  return ranked;
}


// The policy's kFinish: every paused job becomes stopped, each with its
// decision; the sweep is finished when nothing else is left.
absl::Status ApplyFinish(Database& db, int64_t sweep_id, const AshaPolicy& policy,
                         const std::vector<TrialState>& trials, const AshaDecision& decision,
                         absl::Time now) {
  for (const AshaStop& stop : decision.stops) {
    {
      SY_RETURN_IF_ERROR(CheckTransition(stop.job_id, JobState::kPaused, JobState::kStopped));
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kStopPausedJob));
      stmt->BindText(1, stop.reason);
      stmt->BindTime(2, now);
      stmt->BindInt64(3, stop.job_id);
      SY_RETURN_IF_ERROR(stmt->Run());
      if (db.Changes() != 1) {
        return absl::InternalError(absl::StrCat("job ", stop.job_id, " was not paused"));
      }
    }
    nlohmann::json inputs = {{"rung", stop.rung},
                             {"reduction", policy.reduction},
                             {"ranked", RungInputs(trials, stop.rung, policy.maximize)}};
    if (stop.has_threshold) inputs["threshold"] = JsonNumber(stop.threshold);
    SY_RETURN_IF_ERROR(WriteDecision(db, {0, sweep_id, stop.job_id, "stop", stop.rung, stop.epoch,
                                          stop.value, stop.reason, inputs.dump(), now}));
  }
  return MaybeFinishSweep(db, sweep_id, now);
}

}  // namespace

absl::StatusOr<JobState> JobStateFromDb(int64_t value) {
  if (value < 1 || value > static_cast<int64_t>(JobState::kStopped)) {
    return absl::InternalError(absl::StrCat("corrupt database: job state ", value));
  }
  return static_cast<JobState>(value);
}

absl::Status MaybeFinishSweep(Database& db, int64_t sweep_id, absl::Time now) {
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSweepHasUnfinishedJobs));
    stmt->BindInt64(1, sweep_id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::InternalError("EXISTS returned no row");
    if (stmt->ColumnBool(0)) return absl::OkStatus();
  }
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kFinishSweep));
  stmt->BindTime(1, now);
  stmt->BindInt64(2, sweep_id);
  return stmt->Run();
}

absl::StatusOr<SchedulerSpec> LoadScheduler(Database& db, int64_t sweep_id) {
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectSchedulerOfSweep));
  stmt->BindInt64(1, sweep_id);
  SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("sweep ", sweep_id, " does not exist"));
  return StoredScheduler(sweep_id, stmt->ColumnText(0));
}

absl::StatusOr<std::optional<ScheduledClaim>> ClaimScheduled(
    Database& db, const std::vector<std::string>& programs,
    const std::optional<PlainCandidate>& plain, absl::Time now) {
  struct Scheduled {
    int64_t id, priority;
    std::string scheduler_json;
  };
  std::vector<Scheduled> sweeps;
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectScheduledSweeps));
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      sweeps.push_back({stmt->ColumnInt64(0), stmt->ColumnInt64(1), stmt->ColumnText(2)});
    }
  }
  for (const Scheduled& sweep : sweeps) {
    // The plain walk's job wins over a lower priority, and over an equal
    // one of its own sweep or a younger one (a requeued ASHA job resumes
    // before a new trial starts).
    if (plain.has_value() &&
        (sweep.priority < plain->priority ||
         (sweep.priority == plain->priority && sweep.id >= plain->sweep_id))) {
      break;
    }
    SY_ASSIGN_OR_RETURN(SchedulerSpec spec, StoredScheduler(sweep.id, sweep.scheduler_json));
    if (spec.kind != SchedulerSpec::Kind::kAsha) continue;
    const AshaPolicy& policy = spec.asha;
    SY_ASSIGN_OR_RETURN(std::vector<TrialState> trials, LoadTrials(db, sweep.id, &programs));
    SY_ASSIGN_OR_RETURN(AshaDecision decision, NextForFreeSlot(policy, trials));
    const std::vector<int> rungs = RungEpochs(policy);
    const int top = static_cast<int>(rungs.size()) - 1;
    switch (decision.kind) {
      case AshaDecision::kNothing: continue;
      case AshaDecision::kFinish: {
        // Without the program filter: the finish is about every job.
        SY_ASSIGN_OR_RETURN(std::vector<TrialState> all, LoadTrials(db, sweep.id, nullptr));
        SY_ASSIGN_OR_RETURN(AshaDecision finish, NextForFreeSlot(policy, all));
        if (finish.kind == AshaDecision::kFinish) {
          SY_RETURN_IF_ERROR(ApplyFinish(db, sweep.id, policy, all, finish, now));
        }
        continue;
      }
      case AshaDecision::kPromote: {
        SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectProgramOfJob));
        stmt->BindInt64(1, decision.job_id);
        SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) return absl::InternalError(absl::StrCat("job ", decision.job_id, " vanished"));
        if (std::find(programs.begin(), programs.end(), stmt->ColumnText(0)) == programs.end()) {
          continue;  // another worker, one with its program, will promote it
        }
        break;
      }
      case AshaDecision::kStartNew: break;
    }
    DecisionRecord record;
    record.sweep_id = sweep.id;
    record.job_id = decision.job_id;
    record.decided_at = now;
    record.reason = decision.reason;
    record.epoch = decision.epochs;
    nlohmann::json inputs = {{"reduction", policy.reduction}};
    if (decision.kind == AshaDecision::kPromote) {
      record.kind = "promote";
      record.rung = decision.from_rung;
      record.value = decision.value;
      inputs["rung"] = decision.from_rung;
      inputs["rank"] = decision.rank;
      inputs["top_count"] = decision.top_count;
      inputs["ranked"] = RungInputs(trials, decision.from_rung, policy.maximize);
    } else {
      record.kind = "start";
      record.rung = 0;
      record.value = std::numeric_limits<double>::quiet_NaN();
    }
    record.inputs_json = inputs.dump();
    SY_RETURN_IF_ERROR(WriteDecision(db, record));
    // The top rung trains the config's own epochs (which ASHA set to
    // max_epochs), so the job can succeed.
    return std::optional<ScheduledClaim>(
        ScheduledClaim{decision.job_id, decision.to_rung >= top ? 0 : decision.epochs});
  }
  return std::optional<ScheduledClaim>();
}

absl::Status AfterAttemptEnd(Database& db, const JobRecord& job, AttemptOutcome outcome,
                             JobState after, absl::Time now) {
  SY_ASSIGN_OR_RETURN(SchedulerSpec spec, LoadScheduler(db, job.sweep_id));
  if (spec.kind != SchedulerSpec::Kind::kAsha) return absl::OkStatus();
  const AshaPolicy& policy = spec.asha;
  if (outcome == AttemptOutcome::kSucceeded &&
      (after == JobState::kPaused || after == JobState::kSucceeded)) {
    const std::vector<int> rungs = RungEpochs(policy);
    int rung = static_cast<int>(rungs.size()) - 1;  // no budget: the whole job, the top rung
    if (job.epoch_budget > 0) {
      // The rung whose budget it trained; a budget between rungs counts as
      // the highest rung it covered.
      rung = 0;
      for (size_t k = 0; k < rungs.size(); ++k) {
        if (rungs[k] <= job.epoch_budget) rung = static_cast<int>(k);
      }
    }
    double value = std::numeric_limits<double>::quiet_NaN();
    {
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectMetricLastByName));
      stmt->BindInt64(1, job.id);
      stmt->BindText(2, policy.metric);
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (row) value = NullableValue(*stmt, 0);
    }
    {
      SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kUpsertRungResult));
      stmt->BindInt64(1, job.id);
      stmt->BindInt64(2, rung);
      stmt->BindInt64(3, rungs[rung]);
      stmt->BindDouble(4, value);
      stmt->BindTime(5, now);
      SY_RETURN_IF_ERROR(stmt->Run());
    }
    SY_ASSIGN_OR_RETURN(AshaAfterRung result, AfterRung(policy, job.id, rung, value));
    std::string reason = result.reason;
    if (!std::isfinite(value)) {
      absl::StrAppend(&reason, " (the job logged no ", policy.metric, ": it ranks last)");
    }
    nlohmann::json inputs = {{"metric", policy.metric}, {"value", JsonNumber(value)}};
    SY_RETURN_IF_ERROR(WriteDecision(db, {0, job.sweep_id, job.id, result.done ? "done" : "pause",
                                          rung, rungs[rung], value, reason, inputs.dump(), now}));
  }
  // Nothing pending or running: the policy may end the sweep now, rather
  // than at a claim that may never come.
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSweepHasActiveJobs));
    stmt->BindInt64(1, job.sweep_id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row || stmt->ColumnBool(0)) return absl::OkStatus();
  }
  SY_ASSIGN_OR_RETURN(std::vector<TrialState> trials, LoadTrials(db, job.sweep_id, nullptr));
  SY_ASSIGN_OR_RETURN(AshaDecision decision, NextForFreeSlot(policy, trials));
  if (decision.kind != AshaDecision::kFinish) return absl::OkStatus();
  return ApplyFinish(db, job.sweep_id, policy, trials, decision, now);
}

absl::StatusOr<bool> JudgeMedian(Database& db, int64_t job_id, absl::Time now) {
  int64_t sweep_id = 0, judged_epoch = 0;
  bool stop_requested = false;
  std::string scheduler_json;
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectMedianJob));
    stmt->BindInt64(1, job_id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::NotFoundError(absl::StrCat("job ", job_id, " does not exist"));
    sweep_id = stmt->ColumnInt64(0);
    stop_requested = stmt->ColumnBool(1);
    judged_epoch = stmt->ColumnInt64(2);
    scheduler_json = stmt->ColumnText(3);
  }
  if (stop_requested) return true;
  if (scheduler_json.empty()) return false;
  SY_ASSIGN_OR_RETURN(SchedulerSpec spec, StoredScheduler(sweep_id, scheduler_json));
  if (spec.kind != SchedulerSpec::Kind::kMedian) return false;
  const MedianPolicy& policy = spec.median;
  auto name_id = [&db](const std::string& name) -> absl::StatusOr<int64_t> {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectNameId));
    stmt->BindText(1, name);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    return row ? stmt->ColumnInt64(0) : 0;
  };
  SY_ASSIGN_OR_RETURN(int64_t epoch_id, name_id("epoch"));
  SY_ASSIGN_OR_RETURN(int64_t metric_id, name_id(policy.metric));
  if (epoch_id == 0 || metric_id == 0) return false;  // nothing logged yet
  int64_t epoch = 0;
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectLastEpoch));
    stmt->BindInt64(1, job_id);
    stmt->BindInt64(2, epoch_id);
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row || stmt->ColumnIsNull(0)) return false;
    epoch = static_cast<int64_t>(stmt->ColumnDouble(0));
  }
  if (epoch <= judged_epoch) return false;
  Curve curve;
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectCurve));
    stmt->BindInt64(1, metric_id);
    stmt->BindInt64(2, job_id);
    stmt->BindInt64(3, epoch_id);
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      const int e = static_cast<int>(stmt->ColumnDouble(0));
      if (e <= epoch) curve[e] = NullableValue(*stmt, 1);
    }
  }
  // The epoch line names the epoch and the metric together; a program that
  // logged the metric elsewhere has no curve to judge.
  if (curve.empty() || curve.rbegin()->first != epoch) return false;
  std::vector<Curve> others;
  nlohmann::json other_values = nlohmann::json::array();
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectOthersAtEpoch));
    stmt->BindInt64(1, epoch_id);
    stmt->BindDouble(2, static_cast<double>(epoch));
    stmt->BindInt64(3, metric_id);
    stmt->BindInt64(4, sweep_id);
    stmt->BindInt64(5, job_id);
    int64_t last_job = 0;
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      const int64_t other = stmt->ColumnInt64(0);
      if (other == last_job) continue;  // one value per job: its first at that epoch
      last_job = other;
      const double value = NullableValue(*stmt, 1);
      others.push_back(Curve{{static_cast<int>(epoch), value}});
      other_values.push_back({other, JsonNumber(value)});
    }
  }
  SY_ASSIGN_OR_RETURN(MedianDecision decision, ShouldStop(policy, curve, others));
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSetJudged));
    stmt->BindInt64(1, epoch);
    stmt->BindBool(2, decision.stop);
    stmt->BindTime(3, now);
    stmt->BindInt64(4, job_id);
    SY_RETURN_IF_ERROR(stmt->Run());
  }
  if (!decision.stop) return false;
  nlohmann::json inputs = {{"metric", policy.metric},
                           {"epoch", epoch},
                           {"best", JsonNumber(decision.best)},
                           {"median", JsonNumber(decision.median)},
                           {"others", other_values}};
  SY_RETURN_IF_ERROR(WriteDecision(db, {0, sweep_id, job_id, "stop", -1, decision.epoch,
                                        decision.best, decision.reason, inputs.dump(), now}));
  return true;
}

absl::StatusOr<std::vector<RungRecord>> LoadRungs(Database& db, int64_t sweep_id,
                                                  const SchedulerSpec& scheduler) {
  std::vector<RungRecord> rungs;
  if (scheduler.kind != SchedulerSpec::Kind::kAsha) return rungs;
  const std::vector<int> epochs = RungEpochs(scheduler.asha);
  for (size_t k = 0; k < epochs.size(); ++k) {
    rungs.push_back(RungRecord{static_cast<int32_t>(k), epochs[k]});
  }
  auto at = [&rungs](int64_t k) -> RungRecord* {
    return k >= 0 && k < static_cast<int64_t>(rungs.size()) ? &rungs[k] : nullptr;
  };
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kCountReached));
    stmt->BindInt64(1, sweep_id);
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      if (RungRecord* r = at(stmt->ColumnInt64(0))) r->reached = stmt->ColumnInt64(1);
    }
  }
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kCountDecisionsByRung));
    stmt->BindInt64(1, sweep_id);
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      RungRecord* r = at(stmt->ColumnInt64(1));
      if (r == nullptr) continue;
      (stmt->ColumnText(0) == "promote" ? r->promoted : r->stopped) = stmt->ColumnInt64(2);
    }
  }
  {
    SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectPromotedJobs));
    stmt->BindInt64(1, sweep_id);
    while (true) {
      SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      if (RungRecord* r = at(stmt->ColumnInt64(0))) r->promoted_jobs.push_back(stmt->ColumnInt64(1));
    }
  }
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kCountPausedByRung));
  stmt->BindInt64(1, sweep_id);
  while (true) {
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    if (stmt->ColumnIsNull(0)) continue;
    if (RungRecord* r = at(stmt->ColumnInt64(0))) r->paused = stmt->ColumnInt64(1);
  }
  return rungs;
}

absl::StatusOr<std::vector<DecisionRecord>> LoadDecisions(Database& db, int64_t job_id) {
  std::vector<DecisionRecord> decisions;
  SY_ASSIGN_OR_RETURN(ScopedStatement stmt, db.Cached(kSelectDecisionsOfJob));
  stmt->BindInt64(1, job_id);
  while (true) {
    SY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return decisions;
    DecisionRecord d;
    d.id = stmt->ColumnInt64(0);
    d.sweep_id = stmt->ColumnInt64(1);
    d.job_id = stmt->ColumnInt64(2);
    d.kind = stmt->ColumnText(3);
    d.rung = static_cast<int32_t>(stmt->ColumnInt64(4));
    d.epoch = static_cast<int32_t>(stmt->ColumnInt64(5));
    d.value = NullableValue(*stmt, 6);
    d.reason = stmt->ColumnText(7);
    d.inputs_json = stmt->ColumnText(8);
    d.decided_at = stmt->ColumnTime(9);
    decisions.push_back(std::move(d));
  }
}

}  // namespace switchyard::server::scheduling
