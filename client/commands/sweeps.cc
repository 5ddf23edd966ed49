// submit, status, jobs, cancel, retry and why: the commands that look at or
// change one sweep or job through plain calls.
#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/commands/commands.h"
#include "client/render/format.h"
#include "common/sweep/sweep_wire.h"
#include "common/config/job_config.h"
#include "common/sweep/grid.h"
#include "common/sweep/sweep_file.h"

namespace switchyard::client {
namespace {

// "3" or "sweep/3".
absl::StatusOr<int64_t> ParseSweepArg(const std::string& text) {
  std::string id = text;
  if (absl::StartsWith(id, "sweep/")) id = id.substr(6);
  return ParseId("SWEEP", id);
}

std::string SweepStateName(const pb::Sweep& sweep) {
  return sweep.state() == pb::SWEEP_STATE_FINISHED ? "finished" : "active";
}

int64_t TotalJobs(const pb::StateCounts& c) {
  return c.pending() + c.running() + c.succeeded() + c.failed() + c.lost() + c.cancelled() +
         c.paused() + c.stopped();
}

// Seeds are integers in JSON and CSV output.
Cell IntegerOrText(const std::string& text) {
  if (!text.empty() && text.size() < 19 &&
      text.find_first_not_of("0123456789") == std::string::npos) {
    return static_cast<int64_t>(std::stoll(text));
  }
  return text;
}

// ------------------------------------------------------------------ submit

// The sweep's early-stopping scheduler, one line, e.g. "asha on accuracy
// (max), epochs 1 to 27, reduction 3"; "" when it has none.
std::string SchedulerSummary(const pb::Scheduler& scheduler) {
  if (scheduler.kind().empty()) return "";
  std::string text = scheduler.kind();
  if (!scheduler.metric().empty()) absl::StrAppend(&text, " on ", scheduler.metric());
  if (!scheduler.mode().empty()) absl::StrAppend(&text, " (", scheduler.mode(), ")");
  if (scheduler.kind() == "asha") {
    absl::StrAppend(&text, ", epochs ", scheduler.min_epochs(), " to ", scheduler.max_epochs(),
                    ", reduction ", scheduler.reduction());
  } else if (scheduler.kind() == "median" && scheduler.warmup_epochs() > 0) {
    absl::StrAppend(&text, ", warmup ", scheduler.warmup_epochs(), " epoch",
                    scheduler.warmup_epochs() == 1 ? "" : "s");
  }
  return text;
}

absl::Status RunSubmit(const Args& args, CommandEnv& env) {
  const std::string& path = args.positionals()[0];
  absl::StatusOr<common::SweepDefinition> sweep = common::ParseSweepFile(path);
  if (!sweep.ok()) return absl::InvalidArgumentError(sweep.status().message());
  if (args.Has("name")) {
    sweep->name = args.Get("name");
    if (sweep->name.empty() || sweep->name.size() > 200) {
      return absl::InvalidArgumentError("--name: expected 1 to 200 characters");
    }
  }
  if (sweep->name.empty()) sweep->name = std::filesystem::path(path).stem().string();
  if (args.Has("priority")) {
    absl::StatusOr<int64_t> priority =
        ParseIntFlag("--priority", args.Get("priority"), -1000, 1000);
    if (!priority.ok()) return priority.status();
    sweep->priority = static_cast<int32_t>(*priority);
  }
  if (args.Has("max-attempts")) {
    absl::StatusOr<int64_t> attempts =
        ParseIntFlag("--max-attempts", args.Get("max-attempts"), 1, 100);
    if (!attempts.ok()) return attempts.status();
    sweep->max_attempts = static_cast<int32_t>(*attempts);
  }
  absl::StatusOr<int64_t> cells = common::CountCells(*sweep);
  if (!cells.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", cells.status().message()));

  if (args.Has("dry-run")) {
    // Local: a dry run needs no coordinator, and the grid code is the
    // coordinator's own (common/sweep).
    constexpr int64_t kShown = 10;
    absl::StatusOr<std::vector<common::GridCell>> first = common::ExpandGrid(*sweep, kShown);
    if (!first.ok())
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", first.status().message()));
    if (env.globals().output == OutputFormat::kJson) {
      nlohmann::ordered_json json;
      json["name"] = sweep->name;
      json["cells"] = *cells;
      json["first"] = nlohmann::ordered_json::array();
      for (const common::GridCell& cell : *first) {
        json["first"].push_back(nlohmann::ordered_json::parse(cell.config.ToJson()));
      }
      env.out() << json.dump(2) << "\n";
      return absl::OkStatus();
    }
    // The columns: the keys that vary across the grid, model and attention
    // always, in the file's order.
    // A program of your own has no model: its name stands in their place.
    std::vector<std::string> keys = {"model", "attention"};
    if (!first->empty() && first->front().config.Str("program") != config::kBuiltinProgram) {
      keys = {"program"};
    }
    for (const common::SweepAxis& axis : sweep->axes) {
      if (axis.values.size() > 1 && std::find(keys.begin(), keys.end(), axis.key) == keys.end()) {
        keys.push_back(axis.key);
      }
    }
    for (const common::SweepDistribution& d : sweep->distributions) {  // drawn per trial
      if (std::find(keys.begin(), keys.end(), d.key) == keys.end()) keys.push_back(d.key);
    }
    std::vector<Column> columns = {{"cell"}};
    for (const std::string& key : keys) columns.push_back({key});
    Table table(columns);
    for (const common::GridCell& cell : *first) {
      std::vector<Cell> row = {cell.index};
      for (const std::string& key : keys) {
        const config::Value& value = cell.config.Get(key);
        if (const auto* i = std::get_if<int64_t>(&value)) {
          row.push_back(*i);
        } else if (const auto* d = std::get_if<double>(&value)) {
          row.push_back(*d);
        } else {
          row.push_back(std::get<std::string>(value));
        }
      }
      table.AddRow(std::move(row));
    }
    if (env.globals().output == OutputFormat::kTable) {
      env.out() << *cells << " cells in sweep '" << sweep->name << "'";
      if (*cells > kShown) env.out() << "; the first " << kShown;
      env.out() << ":\n";
    } else {
      env.err() << *cells << " cells in sweep '" << sweep->name << "'\n";
    }
    env.out() << table.Render(env.globals().output);
    if (sweep->scheduler.kind != common::SchedulerSpec::Kind::kNone) {
      pb::Scheduler scheduler;
      common::SchedulerToProto(sweep->scheduler, &scheduler);
      env.err() << "early stopping: " << SchedulerSummary(scheduler) << "\n";
    }
    env.err() << "dry run: nothing was submitted\n";
    return absl::OkStatus();
  }

  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();
  pb::SubmitSweepRequest request;
  common::SweepToProto(*sweep, request.mutable_spec());
  absl::StatusOr<pb::SubmitSweepResponse> response = (*client)->SubmitSweep(request);
  if (!response.ok()) return response.status();
  env.out() << response->sweep_id() << "\n";
  env.out().flush();
  env.err() << "submitted sweep " << response->sweep_id() << " '" << sweep->name << "' with "
            << response->job_count() << " jobs; follow it with: switchyard watch "
            << response->sweep_id() << "\n";
  return absl::OkStatus();
}

// ------------------------------------------------------------------ status


// `status SWEEP`: the scheduler and, for ASHA, how far the jobs got, a line
// per rung (lowest first).
void PrintEarlyStopping(const pb::Sweep& s, CommandEnv& env) {
  const std::string scheduler = SchedulerSummary(s.spec().scheduler());
  if (scheduler.empty() && s.rungs().empty()) return;
  env.out() << "\nearly stopping: " << (scheduler.empty() ? "asha" : scheduler) << "\n";
  for (const pb::Rung& r : s.rungs()) {
    env.out() << "  rung " << r.index() << " (epoch " << r.epoch() << "): " << r.reached()
              << " reached, " << r.promoted() << " promoted, " << r.paused() << " paused, "
              << r.stopped() << " stopped";
    if (r.promoted_jobs_size() > 0) {
      env.out() << "; promoted: job" << (r.promoted_jobs_size() == 1 ? " " : "s ")
                << absl::StrJoin(r.promoted_jobs(), ", ");
    }
    env.out() << "\n";
  }
}

absl::Status RunStatus(const Args& args, CommandEnv& env) {
  std::vector<pb::Sweep> sweeps;
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  bool one = !args.positionals().empty();
  if (one) {
    absl::StatusOr<int64_t> id = ParseSweepArg(args.positionals()[0]);
    if (!id.ok()) return id.status();
    if (!client.ok()) return client.status();
    absl::StatusOr<pb::Sweep> sweep = (*client)->GetSweep(*id);
    if (!sweep.ok()) return sweep.status();
    sweeps.push_back(*std::move(sweep));
  } else {
    if (!client.ok()) return client.status();
    absl::StatusOr<std::vector<pb::Sweep>> all = (*client)->ListSweeps();
    if (!all.ok()) return all.status();
    sweeps = *std::move(all);
  }
  Table table({{"id"},
               {"name", 4, 32},
               {"state"},
               {"priority"},
               {"jobs"},
               {"done"},
               {"running"},
               {"pending"},
               {"failed"},
               {"lost"},
               {"cancelled"},
               {"paused"},
               {"stopped"},
               {"created"},
               {"elapsed"}});
  double now = env.Now();
  for (const pb::Sweep& s : sweeps) {
    const pb::StateCounts& c = s.counts();
    double end = s.finished_at() > 0 ? s.finished_at() : now;
    table.AddRow({s.id(), s.name(), SweepStateName(s), static_cast<int64_t>(s.priority()),
                  TotalJobs(c), c.succeeded(), c.running(), c.pending(), c.failed(), c.lost(),
                  c.cancelled(), c.paused(), c.stopped(), FormatTime(s.created_at()),
                  FormatDuration(end - s.created_at())});
  }
  env.out() << table.Render(env.globals().output);
  if (one && env.globals().output == OutputFormat::kTable) {
    const pb::Sweep& s = sweeps[0];
    env.out() << "\ngrid (" << s.spec().axes_size() << " keys; max_attempts "
              << (s.max_attempts() > 0 ? s.max_attempts() : common::kDefaultMaxAttempts) << "):\n";
    for (const pb::Axis& axis : s.spec().axes()) {
      std::vector<std::string> values;
      for (const pb::ParamValue& v : axis.values()) {
        switch (v.kind_case()) {
          case pb::ParamValue::kIntValue:
            values.push_back(std::to_string(v.int_value()));
            break;
          case pb::ParamValue::kFloatValue:
            values.push_back(ShortestDouble(v.float_value()));
            break;
          default:
            values.push_back(v.string_value());
        }
      }
      env.out() << "  " << axis.key() << ": " << absl::StrJoin(values, ", ") << "\n";
    }
    PrintEarlyStopping(s, env);
  }
  return absl::OkStatus();
}

// -------------------------------------------------------------------- jobs

absl::Status RunJobs(const Args& args, CommandEnv& env) {
  absl::StatusOr<int64_t> id = ParseSweepArg(args.positionals()[0]);
  if (!id.ok()) return id.status();
  pb::JobState state = pb::JOB_STATE_UNSPECIFIED;
  if (args.Has("state")) {
    absl::StatusOr<pb::JobState> parsed = ParseJobState("--state", args.Get("state"));
    if (!parsed.ok()) return parsed.status();
    state = *parsed;
  }
  std::string metric = args.Get("metric", "accuracy");
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();
  absl::StatusOr<std::vector<pb::Job>> jobs = (*client)->ListJobs(*id, state);
  if (!jobs.ok()) return jobs.status();
  Table table({{"id"},
               {"cell"},
               {"state"},
               {"model"},
               {"attention"},
               {"tasks"},
               {"seed"},
               {"attempts"},
               {"failures"},
               {metric},
               {"updated"},
               {"cause", 4, 60}});
  for (const pb::Job& job : *jobs) {
    JobData data = ToJobData(job);
    Cell value;
    if (auto it = data.final_metrics.find(metric); it != data.final_metrics.end())
      value = it->second;
    table.AddRow({data.id, data.cell_index, data.state, data.Config("model"),
                  data.Config("attention"), data.Config("tasks"),
                  IntegerOrText(data.Config("seed")), static_cast<int64_t>(job.attempt_count()),
                  static_cast<int64_t>(job.failures()), value, FormatTime(job.updated_at()),
                  env.globals().output == OutputFormat::kTable ? FirstLine(job.last_cause(), 200)
                                                               : job.last_cause()});
  }
  env.out() << table.Render(env.globals().output);
  return absl::OkStatus();
}

// ------------------------------------------------------------------ cancel

absl::Status RunCancel(const Args& args, CommandEnv& env) {
  const std::string& target = args.positionals()[0];
  pb::CancelRequest request;
  std::string what;
  if (absl::StartsWith(target, "job/")) {
    absl::StatusOr<int64_t> id = ParseId("JOB", target.substr(4));
    if (!id.ok()) return id.status();
    request.set_job_id(*id);
    what = absl::StrCat("job ", *id);
  } else {
    absl::StatusOr<int64_t> id = ParseSweepArg(target);
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cancel: expected SWEEP (e.g. 3 or sweep/3) or job/JOB (e.g. job/17), got '",
                       target, "'"));
    }
    request.set_sweep_id(*id);
    what = absl::StrCat("sweep ", *id);
  }
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();
  absl::StatusOr<pb::CancelResponse> response = (*client)->Cancel(request);
  if (!response.ok()) return response.status();
  env.out() << what << ": cancelled " << response->cancelled_pending() << " pending job"
            << (response->cancelled_pending() == 1 ? "" : "s") << "; " << response->cancel_ordered()
            << " running job" << (response->cancel_ordered() == 1 ? "" : "s")
            << " told to stop at their next heartbeat\n";
  return absl::OkStatus();
}

// ------------------------------------------------------------------- retry

// "failed", "failed or lost", "failed, lost or stopped".
std::string OrList(const std::vector<std::string>& items) {
  if (items.size() < 2) return absl::StrJoin(items, "");
  return absl::StrCat(absl::StrJoin(items.begin(), items.end() - 1, ", "), " or ", items.back());
}

absl::Status RunRetry(const Args& args, CommandEnv& env) {
  absl::StatusOr<int64_t> id = ParseSweepArg(args.positionals()[0]);
  if (!id.ok()) return id.status();
  pb::RetrySweepRequest request;
  request.set_sweep_id(*id);
  // Default failed and lost; --stopped alone asks for stopped jobs only,
  // with --state for those states as well.
  std::vector<std::string> states;
  if (args.Has("state")) {
    absl::StatusOr<std::vector<std::string>> parsed =
        ParseListFlag("--state", args.Get("state"), {"failed", "lost", "stopped"});
    if (!parsed.ok()) return parsed.status();
    states = *parsed;
  } else if (!args.Has("stopped")) {
    states = {"failed", "lost"};
  }
  if (args.Has("stopped") && !absl::c_linear_search(states, std::string("stopped"))) {
    states.push_back("stopped");
  }
  for (const std::string& s : states) {
    request.add_states(s == "failed"   ? pb::JOB_STATE_FAILED
                       : s == "lost" ? pb::JOB_STATE_LOST
                                     : pb::JOB_STATE_STOPPED);
  }
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();
  absl::StatusOr<pb::RetrySweepResponse> response = (*client)->RetrySweep(request);
  if (!response.ok()) return response.status();
  env.out() << "sweep " << *id << ": requeued " << response->requeued() << " "
            << OrList(states) << " job" << (response->requeued() == 1 ? "" : "s");
  if (absl::c_linear_search(states, std::string("stopped")) && response->requeued() > 0) {
    env.out() << "; stopped jobs resume from their checkpoints to their full epochs";
  }
  env.out() << "\n";
  return absl::OkStatus();
}

// --------------------------------------------------------------------- why

std::string OutcomeName(pb::AttemptOutcome outcome) {
  switch (outcome) {
    case pb::ATTEMPT_OUTCOME_RUNNING:
      return "running";
    case pb::ATTEMPT_OUTCOME_SUCCEEDED:
      return "succeeded";
    case pb::ATTEMPT_OUTCOME_FAILED:
      return "failed";
    case pb::ATTEMPT_OUTCOME_LOST:
      return "lost";
    case pb::ATTEMPT_OUTCOME_PREEMPTED:
      return "preempted";
    case pb::ATTEMPT_OUTCOME_CANCELLED:
      return "cancelled";
    case pb::ATTEMPT_OUTCOME_CONFIG_ERROR:
      return "config_error";
    case pb::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR:
      return "environment_error";
    case pb::ATTEMPT_OUTCOME_STOPPED:
      return "stopped";
    default:
      return "unknown";
  }
}

std::string OutcomeMeaning(pb::AttemptOutcome outcome) {
  switch (outcome) {
    case pb::ATTEMPT_OUTCOME_FAILED:
      return "the trainer failed; this used one unit of the retry budget";
    case pb::ATTEMPT_OUTCOME_LOST:
      return "the worker stopped renewing its lease; free, the job was requeued";
    case pb::ATTEMPT_OUTCOME_PREEMPTED:
      return "handed back by a draining worker; free";
    case pb::ATTEMPT_OUTCOME_CANCELLED:
      return "cancelled on request";
    case pb::ATTEMPT_OUTCOME_SUCCEEDED:
      return "finished every epoch it was given (under ASHA, those of its rung)";
    case pb::ATTEMPT_OUTCOME_RUNNING:
      return "still running";
    case pb::ATTEMPT_OUTCOME_CONFIG_ERROR:
      return "the trainer refused the job's config; the job failed at once, without retries";
    case pb::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR:
      return "the worker's machine was broken, not the job; free, the job went back to the queue";
    case pb::ATTEMPT_OUTCOME_STOPPED:
      return "the sweep's early-stopping scheduler stopped it at an epoch boundary, after a "
             "checkpoint; free";
    default:
      return "";
  }
}

// Why a pending job is still waiting: its place in the queue (highest
// priority first, then the lowest job id) and the workers' free slots.
absl::Status ExplainPending(const pb::Job& job, const std::string& program,
                            CoordinatorClient* client, CommandEnv& env) {
  absl::StatusOr<pb::Sweep> sweep = client->GetSweep(job.sweep_id());
  if (!sweep.ok()) return sweep.status();
  absl::StatusOr<std::vector<pb::Sweep>> sweeps = client->ListSweeps();
  if (!sweeps.ok()) return sweeps.status();
  absl::StatusOr<std::vector<pb::Job>> pending =
      client->ListJobs(job.sweep_id(), pb::JOB_STATE_PENDING);
  if (!pending.ok()) return pending.status();
  int64_t ahead = 0;
  for (const pb::Sweep& other : *sweeps) {
    if (other.id() == sweep->id()) continue;
    if (other.priority() > sweep->priority() ||
        (other.priority() == sweep->priority() && other.id() < sweep->id())) {
      ahead += other.counts().pending();
    }
  }
  for (const pb::Job& other : *pending) {
    if (other.id() < job.id()) ++ahead;
  }
  env.out() << "  it waits in the queue: " << ahead << " pending job" << (ahead == 1 ? "" : "s")
            << " go first (higher priority, or the same priority and submitted earlier); its sweep "
            << "has priority " << sweep->priority() << "\n";
  absl::StatusOr<std::vector<pb::Worker>> workers = client->ListWorkers();
  if (!workers.ok()) return workers.status();
  // Only workers that run the job's program can take it (a worker of
  // before programs runs switchyard-train alone).
  const auto has_program = [&program](const pb::Worker& w) {
    if (w.programs().empty()) return program == config::kBuiltinProgram;
    return absl::c_linear_search(w.programs(), program);
  };
  int64_t alive = 0, slots = 0, busy = 0, draining = 0, quarantined = 0, without_program = 0;
  std::set<std::string> offered;
  for (const pb::Worker& w : *workers) {
    if (w.state() == "alive" || w.state() == "draining") {
      for (const std::string& p : w.programs()) offered.insert(p);
    }
    if (!has_program(w)) {
      if (w.state() == "alive") ++without_program;
      continue;
    }
    if (w.state() == "alive") {
      ++alive;
      slots += w.slots_total();
      busy += w.slots_busy();
    } else if (w.state() == "draining") {
      ++draining;
    } else if (w.state() == "quarantined") {
      ++quarantined;
    }
  }
  if (quarantined > 0) {
    env.out() << "  " << quarantined << " worker" << (quarantined == 1 ? " is" : "s are")
              << " quarantined (broken machines get no jobs): see `switchyard workers`\n";
  }
  if (alive == 0 && program != config::kBuiltinProgram) {
    env.out() << "  it waits for a worker that runs program '" << program << "': "
              << (without_program > 0
                      ? absl::StrCat(without_program, " connected worker",
                                     without_program == 1 ? " does" : "s do", " not (they run ",
                                     absl::StrJoin(offered, ", "), ")")
                      : std::string("no worker is connected"))
              << "; start one with switchyard-worker --coordinator " << env.globals().coordinator
              << " --program " << program << "=/path/to/executable ...\n";
  } else if (alive == 0) {
    env.out() << "  no worker is connected" << (draining > 0 ? " (only draining ones)" : "")
              << (without_program > 0 ? " that runs switchyard-train" : "")
              << ": start one with switchyard-worker --coordinator " << env.globals().coordinator
              << " ...\n";
  } else if (busy >= slots) {
    env.out() << "  every slot is busy: " << busy << " of " << slots << " slots on " << alive
              << " worker" << (alive == 1 ? "" : "s") << "\n";
  } else {
    env.out() << "  " << slots - busy << " of " << slots << " slots are free on " << alive
              << " worker" << (alive == 1 ? "" : "s")
              << (ahead == 0 ? ": it should be claimed within a few seconds" : "") << "\n";
  }
  return absl::OkStatus();
}

// The latest decision of `kind` ("pause", "stop", ...), or null.
const pb::Decision* LatestDecision(const pb::Job& job, const std::string& kind) {
  for (int i = job.decisions_size() - 1; i >= 0; --i) {
    if (job.decisions(i).kind() == kind) return &job.decisions(i);
  }
  return nullptr;
}

// "at rung 1 (epoch 3)" for ASHA, "at epoch 3" for the median rule.
std::string WhereDecided(const pb::Decision& d) {
  if (d.rung() >= 0) return absl::StrCat("at rung ", d.rung(), " (epoch ", d.epoch(), ")");
  return absl::StrCat("at epoch ", d.epoch());
}

// One decision as a line of `why`: its time, kind and reason, verbatim (or,
// without a reason, what the decision holds).
std::string DecisionLine(const pb::Decision& d) {
  std::string reason = d.reason();
  if (reason.empty()) {
    reason = WhereDecided(d);
    if (d.kind() != "start") absl::StrAppend(&reason, ", value ", ShortestDouble(d.value()));
  }
  std::string kind = d.kind();
  if (kind.size() < 7) kind.resize(7, ' ');  // "promote"
  return absl::StrCat("  ", FormatTime(d.decided_at()), "  ", kind, "  ", reason);
}

absl::Status RunWhy(const Args& args, CommandEnv& env) {
  std::string text = args.positionals()[0];
  if (absl::StartsWith(text, "job/")) text = text.substr(4);
  absl::StatusOr<int64_t> id = ParseId("JOB", text);
  if (!id.ok()) return id.status();
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();
  absl::StatusOr<pb::Job> job = (*client)->GetJob(*id);
  if (!job.ok()) return job.status();
  JobData data = ToJobData(*job);

  Table attempts({{"attempt"},
                  {"outcome"},
                  {"worker", 4, 24},
                  {"device"},
                  {"started"},
                  {"ran"},
                  {"resumed_from_step"},
                  {"cause", 4, 100}});
  double now = env.Now();
  for (const pb::Attempt& a : job->attempts()) {
    double end = a.ended_at() > 0 ? a.ended_at() : now;
    attempts.AddRow(
        {static_cast<int64_t>(a.number()), OutcomeName(a.outcome()),
         a.worker_name().empty() ? absl::StrCat("worker ", a.worker_id()) : a.worker_name(),
         a.device(), FormatTime(a.started_at()), FormatDuration(end - a.started_at()),
         a.resumed_from_step(), a.cause()});
  }
  if (env.globals().output != OutputFormat::kTable) {
    env.out() << attempts.Render(env.globals().output);
    return absl::OkStatus();
  }

  // What the cell trains: the built-in model, or the program and its params.
  const auto [model, variant] = data.Trains();
  const std::string cell = absl::StrCat(data.OwnProgram() ? "program " : "", model, " ", variant,
                                        " ", data.Config("tasks"));
  env.out() << "job " << data.id << " (sweep " << data.sweep_id << ", cell " << data.cell_index
            << ": " << cell << " seed " << data.Config("seed") << ") is " << data.state
            << "; " << job->attempt_count() << " attempt" << (job->attempt_count() == 1 ? "" : "s")
            << ", " << job->failures() << " counted against the retry budget\n";
  if (job->state() == pb::JOB_STATE_PENDING) {
    if (job->attempts_size() > 0) {
      const pb::Attempt& last = job->attempts(job->attempts_size() - 1);
      env.out() << "  it ran before: attempt " << last.number() << " ended "
                << OutcomeName(last.outcome()) << " (" << OutcomeMeaning(last.outcome())
                << "); the next attempt resumes from the latest checkpoint\n";
    }
    if (job->epoch_budget() > 0) {
      env.out() << "  its next attempt trains to epoch " << job->epoch_budget()
                << ", its rung's budget under the sweep's ASHA scheduler\n";
    }
    const std::string program =
        data.Config("program").empty() ? std::string(config::kBuiltinProgram) : data.Config("program");
    if (absl::Status s = ExplainPending(*job, program, *client, env); !s.ok()) return s;
  } else if (job->state() == pb::JOB_STATE_RUNNING && job->attempts_size() > 0) {
    const pb::Attempt& last = job->attempts(job->attempts_size() - 1);
    env.out() << "  attempt " << last.number() << " runs on "
              << (last.worker_name().empty() ? absl::StrCat("worker ", last.worker_id())
                                             : last.worker_name())
              << " (" << last.device() << ") since " << FormatTime(last.started_at());
    if (job->epoch_budget() > 0) {
      env.out() << "; it trains to epoch " << job->epoch_budget()
                << " (its rung's budget), then pauses until the scheduler promotes or stops it";
    }
    env.out() << "\n";
  } else if (job->state() == pb::JOB_STATE_PAUSED) {
    const pb::Decision* pause = LatestDecision(*job, "pause");
    env.out() << "  it is paused" << (pause != nullptr ? " " + WhereDecided(*pause) : "")
              << " and waits for promotion: it finished its rung and keeps its checkpoint; the "
                 "sweep's ASHA scheduler resumes it toward the next rung if it ranks among the "
                 "rung's best, and stops it there if the sweep ends first\n";
  } else if (job->state() == pb::JOB_STATE_STOPPED) {
    const pb::Decision* stop = LatestDecision(*job, "stop");
    env.out() << "  the sweep's early-stopping scheduler stopped it"
              << (stop != nullptr ? " " + WhereDecided(*stop) : "")
              << ": no failure, and free of the retry budget; it keeps its checkpoint\n"
              << "  `switchyard retry " << data.sweep_id
              << " --stopped` resumes it from its checkpoint to its full epochs\n";
  } else if (job->state() == pb::JOB_STATE_FAILED && job->attempts_size() > 0 &&
             job->attempts(job->attempts_size() - 1).outcome() ==
                 pb::ATTEMPT_OUTCOME_CONFIG_ERROR) {
    env.out() << "  the trainer refused its config (see the cause below), so it was not tried "
                 "again; fix the sweep file and submit it again\n";
  } else if (job->state() == pb::JOB_STATE_FAILED) {
    env.out() << "  it failed on every attempt the retry budget allowed; `switchyard retry "
              << data.sweep_id << "` runs it again\n";
  } else if (job->state() == pb::JOB_STATE_LOST) {
    env.out() << "  its workers kept disappearing; `switchyard retry " << data.sweep_id
              << " --state lost` runs it again\n";
  }
  // Attempts that broken workers handed back: the job was not charged.
  std::map<std::string, int> broken;
  for (const pb::Attempt& a : job->attempts()) {
    if (a.outcome() != pb::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR) continue;
    ++broken[a.worker_name().empty() ? absl::StrCat("worker ", a.worker_id())
                                     : absl::StrCat(a.worker_name(), " (", a.worker_id(), ")")];
  }
  if (!broken.empty()) {
    std::vector<std::string> names;
    int count = 0;
    for (const auto& [name, n] : broken) {
      names.push_back(name);
      count += n;
    }
    env.out() << "  " << count << " attempt" << (count == 1 ? "" : "s")
              << " went back to the queue because the worker was broken, not the job"
              << " (environment_error, not counted against the retry budget): "
              << absl::StrJoin(names, ", ") << "; `switchyard workers` shows which are "
              << "quarantined\n";
  }
  if (job->decisions_size() > 0) {
    env.out() << "\nscheduler decisions (oldest first):\n";
    for (const pb::Decision& d : job->decisions()) env.out() << DecisionLine(d) << "\n";
  }
  if (job->attempts_size() > 0) {
    env.out() << "\n" << attempts.Render(OutputFormat::kTable);
    // A cause can be a whole stderr tail: show the last one in full.
    for (int i = job->attempts_size() - 1; i >= 0; --i) {
      const pb::Attempt& a = job->attempts(i);
      if (a.outcome() != pb::ATTEMPT_OUTCOME_SUCCEEDED &&
          a.outcome() != pb::ATTEMPT_OUTCOME_RUNNING && a.cause().find('\n') != std::string::npos) {
        env.out() << "\ncause of attempt " << a.number() << ":\n" << a.cause();
        if (a.cause().back() != '\n') env.out() << "\n";
        break;
      }
    }
  } else if (!job->last_cause().empty()) {
    env.out() << "  last cause: " << job->last_cause() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

Command SubmitCommand() {
  return {{"submit",
           "FILE.yaml",
           "submit a sweep file; prints the new sweep's id",
           "Reads the sweep file (a key with a list expands into the grid; a scalar is shared\n"
           "by every cell), checks it and submits it. Prints the sweep's id alone on stdout,\n"
           "so that SWEEP=$(switchyard submit f.yaml) works; the rest goes to stderr.\n"
           "Errors in the file name the file, line and column (exit code 1).",
           {{"name", "N", "the sweep's name (default: the file's `name`, else the file's stem)"},
            {"priority", "P", "higher runs first, -1000 to 1000 (default: the file's, else 0)"},
            {"max-attempts", "N", "failures allowed per job, 1 to 100 (default 3)"},
            {"dry-run", "", "print the number of cells and the first ones; submit nothing"}},
           1,
           1},
          RunSubmit};
}

Command StatusCommand() {
  return {{"status",
           "[SWEEP]",
           "list the sweeps, or show one",
           "Without SWEEP: every sweep with its job counts. With SWEEP: that sweep, its grid\n"
           "and its early-stopping scheduler; for ASHA a line per rung: the jobs that reached\n"
           "it, and how many of those were promoted, are paused there or were stopped there.\n"
           "done = succeeded jobs; paused = waiting at an ASHA rung for promotion; stopped =\n"
           "cut short by the scheduler (`retry --stopped` resumes them).",
           {},
           0,
           1},
          RunStatus};
}

Command JobsCommand() {
  return {{"jobs",
           "SWEEP",
           "list a sweep's jobs",
           "One row per job: its cell, state, model, attention, tasks, seed, attempts and the\n"
           "latest value of a metric (for a paused or stopped job, its value where the\n"
           "scheduler cut it short).",
           {{"state", "S",
             "only jobs in this state: pending, running, succeeded, failed, lost, cancelled, "
             "paused, stopped"},
            {"metric", "M", "the metric column (default accuracy)"}},
           1,
           1},
          RunJobs};
}

Command CancelCommand() {
  return {
      {"cancel",
       "SWEEP|job/JOB",
       "cancel a sweep, or one job",
       "`cancel 3` cancels sweep 3's pending and running jobs; `cancel job/17` cancels job 17.\n"
       "Running jobs stop at their worker's next heartbeat.",
       {},
       1,
       1},
      RunCancel};
}

Command RetryCommand() {
  return {{"retry",
           "SWEEP",
           "requeue a sweep's failed, lost or stopped jobs",
           "Failed and lost jobs (the default) go back to pending with a fresh retry budget;\n"
           "they resume from their latest checkpoint. Stopped jobs (cut short by the sweep's\n"
           "early-stopping scheduler) are requeued only when asked for, with --stopped or\n"
           "--state; they resume from their checkpoint toward their full epochs.",
           {{"state", "S",
             "which jobs, comma-separated: failed, lost, stopped (default failed,lost)"},
            {"stopped", "",
             "requeue stopped jobs: alone, only them; with --state, them as well"}},
           1,
           1},
          RunRetry};
}

Command WhyCommand() {
  return {{"why",
           "JOB",
           "why a job is pending, paused or stopped, or what ended each attempt",
           "For a pending job: its place in the queue and the workers' free slots. For a paused\n"
           "job: the ASHA rung where it waits for promotion; for a stopped one: where the\n"
           "sweep's early-stopping scheduler stopped it and how to resume it. For every job:\n"
           "the scheduler's decisions about it (oldest first, each with its reason) and each\n"
           "attempt with its worker, outcome and cause. --output json|csv prints the attempts\n"
           "table only.",
           {},
           1,
           1},
          RunWhy};
}

}  // namespace switchyard::client
