#include "server/service/convert.h"

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/config/job_config.h"
#include "common/sweep/scheduler.h"
#include "common/sweep/sweep_wire.h"

namespace switchyard::server {
namespace {

double ToUnix(absl::Time t) { return common::ToUnixSeconds(t); }

constexpr size_t kMaxTokenBytes = 256;
constexpr size_t kMaxShortString = 1024;

}  // namespace

absl::StatusOr<JobState> JobStateFromProto(pb::JobState state) {
  switch (state) {
    case pb::JOB_STATE_PENDING: return JobState::kPending;
    case pb::JOB_STATE_RUNNING: return JobState::kRunning;
    case pb::JOB_STATE_SUCCEEDED: return JobState::kSucceeded;
    case pb::JOB_STATE_FAILED: return JobState::kFailed;
    case pb::JOB_STATE_LOST: return JobState::kLost;
    case pb::JOB_STATE_CANCELLED: return JobState::kCancelled;
    case pb::JOB_STATE_PAUSED: return JobState::kPaused;
    case pb::JOB_STATE_STOPPED: return JobState::kStopped;
    default:
      return absl::InvalidArgumentError(absl::StrCat("job state: unknown value ",
                                                     static_cast<int>(state)));
  }
}

absl::StatusOr<AttemptOutcome> AttemptOutcomeFromProto(pb::AttemptOutcome outcome) {
  switch (outcome) {
    case pb::ATTEMPT_OUTCOME_RUNNING: return AttemptOutcome::kRunning;
    case pb::ATTEMPT_OUTCOME_SUCCEEDED: return AttemptOutcome::kSucceeded;
    case pb::ATTEMPT_OUTCOME_FAILED: return AttemptOutcome::kFailed;
    case pb::ATTEMPT_OUTCOME_LOST: return AttemptOutcome::kLost;
    case pb::ATTEMPT_OUTCOME_PREEMPTED: return AttemptOutcome::kPreempted;
    case pb::ATTEMPT_OUTCOME_CANCELLED: return AttemptOutcome::kCancelled;
    case pb::ATTEMPT_OUTCOME_CONFIG_ERROR: return AttemptOutcome::kConfigError;
    case pb::ATTEMPT_OUTCOME_ENVIRONMENT_ERROR: return AttemptOutcome::kEnvironmentError;
    case pb::ATTEMPT_OUTCOME_STOPPED: return AttemptOutcome::kStopped;
    default:
      return absl::InvalidArgumentError(absl::StrCat("outcome: unknown value ",
                                                     static_cast<int>(outcome)));
  }
}

pb::JobState JobStateToProto(JobState state) { return static_cast<pb::JobState>(state); }

pb::AttemptOutcome AttemptOutcomeToProto(AttemptOutcome outcome) {
  return static_cast<pb::AttemptOutcome>(outcome);
}

absl::StatusOr<AttemptRef> AttemptRefFromProto(const pb::AttemptRef& ref) {
  if (ref.attempt_id() <= 0) return absl::InvalidArgumentError("attempt.attempt_id: must be > 0");
  if (ref.fencing_token().empty() || ref.fencing_token().size() > kMaxTokenBytes) {
    return absl::InvalidArgumentError("attempt.fencing_token: must be 1 to 256 bytes");
  }
  return AttemptRef{ref.attempt_id(), ref.fencing_token()};
}

void AttemptRefToProto(const AttemptRef& ref, pb::AttemptRef* out) {
  out->set_attempt_id(ref.attempt_id);
  out->set_fencing_token(ref.fencing_token);
}

namespace {

// The inverse of the coordinator's SweepToJson, for display: each list is an
// axis (a JSON integer an int, another number a float, text a string), each
// {kind: ...} object a distribution of that kind. Unreadable text (an older
// database's "{\"name\":...}") gives no axes.
void SpecJsonToProto(const std::string& spec_json, pb::SweepSpec* spec) {
  const nlohmann::ordered_json object =
      nlohmann::ordered_json::parse(spec_json, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return;
  for (const auto& [key, value] : object.items()) {
    if (key == "search" || key == "scheduler") continue;
    if (value.is_array()) {
      pb::Axis* axis = spec->add_axes();
      axis->set_key(key);
      for (const auto& v : value) {
        pb::ParamValue* p = axis->add_values();
        if (v.is_number_integer()) p->set_int_value(v.get<int64_t>());
        else if (v.is_number()) p->set_float_value(v.get<double>());
        else if (v.is_string()) p->set_string_value(v.get<std::string>());
      }
    } else if (value.is_object() && value.size() == 1) {
      pb::Distribution* d = spec->add_distributions();
      d->set_key(key);
      d->set_kind(value.begin().key());
    }
  }
}

}  // namespace

void SweepRecordToProto(const SweepRecord& record, pb::Sweep* out) {
  out->set_id(record.id);
  out->set_name(record.name);
  out->set_priority(record.priority);
  out->set_max_attempts(record.max_attempts);
  const bool finished = record.counts.AllEnded();
  out->set_state(finished ? pb::SWEEP_STATE_FINISHED : pb::SWEEP_STATE_ACTIVE);
  pb::StateCounts* counts = out->mutable_counts();
  counts->set_pending(record.counts.pending);
  counts->set_running(record.counts.running);
  counts->set_succeeded(record.counts.succeeded);
  counts->set_failed(record.counts.failed);
  counts->set_lost(record.counts.lost);
  counts->set_cancelled(record.counts.cancelled);
  counts->set_paused(record.counts.paused);
  counts->set_stopped(record.counts.stopped);
  out->set_created_at(ToUnix(record.created_at));
  out->set_finished_at(record.finished_at ? ToUnix(*record.finished_at) : 0);
  // The spec as stored (coordinator.cc, SweepToJson): the axes and the
  // distributions' keys in the file's order, and the scheduler.
  SpecJsonToProto(record.spec_json, out->mutable_spec());
  if (absl::StatusOr<common::SchedulerSpec> scheduler =
          common::SchedulerFromJson(record.scheduler_json);
      scheduler.ok() && scheduler->kind != common::SchedulerSpec::Kind::kNone) {
    common::SchedulerToProto(*scheduler, out->mutable_spec()->mutable_scheduler());
  }
  for (const RungRecord& rung : record.rungs) {
    pb::Rung* r = out->add_rungs();
    r->set_index(rung.index);
    r->set_epoch(rung.epoch);
    r->set_reached(rung.reached);
    r->set_promoted(rung.promoted);
    r->set_paused(rung.paused);
    r->set_stopped(rung.stopped);
    for (int64_t job : rung.promoted_jobs) r->add_promoted_jobs(job);
  }
}

void JobRecordToProto(const JobRecord& record, pb::Job* out) {
  out->set_id(record.id);
  out->set_sweep_id(record.sweep_id);
  out->set_cell_index(record.cell_index);
  out->set_config_json(record.config_json);
  out->set_state(JobStateToProto(record.state));
  out->set_failures(record.failures);
  out->set_attempt_count(record.attempt_count);
  for (const auto& [name, value] : record.final_metrics) (*out->mutable_final_metrics())[name] = value;
  out->set_summary_json(record.summary_json);
  out->set_created_at(ToUnix(record.created_at));
  out->set_updated_at(ToUnix(record.updated_at));
  out->set_last_cause(record.last_cause);
  out->set_epoch_budget(record.epoch_budget);
  for (const DecisionRecord& decision : record.decisions) {
    pb::Decision* d = out->add_decisions();
    d->set_id(decision.id);
    d->set_job_id(decision.job_id);
    d->set_kind(decision.kind);
    d->set_rung(decision.rung);
    d->set_epoch(decision.epoch);
    d->set_value(decision.value);
    d->set_reason(decision.reason);
    d->set_inputs_json(decision.inputs_json);
    d->set_decided_at(ToUnix(decision.decided_at));
  }
  for (const AttemptRecord& attempt : record.attempts) {
    pb::Attempt* a = out->add_attempts();
    a->set_id(attempt.id);
    a->set_job_id(attempt.job_id);
    a->set_number(attempt.number);
    a->set_worker_id(attempt.worker_id);
    a->set_worker_name(attempt.worker_name);
    a->set_device(attempt.device);
    a->set_outcome(AttemptOutcomeToProto(attempt.outcome));
    a->set_cause(attempt.cause);
    a->set_started_at(ToUnix(attempt.started_at));
    a->set_ended_at(attempt.ended_at ? ToUnix(*attempt.ended_at) : 0);
    a->set_resumed_from_step(attempt.resumed_from_step);
  }
}

void WorkerRecordToProto(const WorkerRecord& record, const std::string& state, pb::Worker* out) {
  out->set_id(record.id);
  out->set_name(record.name);
  out->set_hostname(record.hostname);
  int32_t slots = 0;
  for (const DeviceRecord& device : record.devices) {
    pb::Device* d = out->add_devices();
    d->set_name(device.name);
    d->set_kind(device.kind);
    d->set_memory_bytes(device.memory_bytes);
    d->set_slots(device.slots);
    d->set_description(device.description);
    d->set_slots_busy(device.slots_busy);
    slots += device.slots;
  }
  out->set_slots_total(slots);
  out->set_slots_busy(record.slots_busy);
  out->set_state(state);
  out->set_registered_at(ToUnix(record.registered_at));
  out->set_last_seen(ToUnix(record.last_seen));
  out->set_build_version(record.build_version);
  out->set_trainer_version(record.trainer_version);
  out->set_cuda_version(record.cuda_version);
  for (const std::string& program : record.programs) out->add_programs(program);
}

absl::StatusOr<WorkerRecord> WorkerFromRegisterRequest(const pb::RegisterWorkerRequest& request) {
  for (const std::string* text : {&request.name(), &request.hostname(), &request.build_version(),
                                  &request.trainer_version(), &request.cuda_version()}) {
    if (text->size() > kMaxShortString) {
      return absl::InvalidArgumentError("register: names and versions are at most 1024 bytes");
    }
  }
  WorkerRecord worker;
  worker.name = request.name();
  worker.hostname = request.hostname();
  worker.build_version = request.build_version();
  worker.trainer_version = request.trainer_version();
  worker.cuda_version = request.cuda_version();
  for (const pb::Device& device : request.devices()) {
    if (device.name().empty() || device.name().size() > 64 || device.kind().size() > 64 ||
        device.description().size() > kMaxShortString) {
      return absl::InvalidArgumentError("devices: a device name is 1 to 64 bytes");
    }
    worker.devices.push_back(DeviceRecord{device.name(), device.kind(), device.memory_bytes(),
                                          device.slots(), device.description()});
  }
  // Names, never paths: the worker maps them to its own executables.
  std::set<std::string> programs;
  for (const std::string& program : request.programs()) {
    if (std::string error = config::CheckProgramName("programs", program); !error.empty()) {
      return absl::InvalidArgumentError(error);
    }
    if (programs.size() >= 64) return absl::InvalidArgumentError("programs: more than 64");
    if (programs.insert(program).second) worker.programs.push_back(program);
  }
  if (worker.programs.empty()) worker.programs.push_back(std::string(config::kBuiltinProgram));
  return worker;
}

void AssignmentToProto(const Assignment& assignment, double lease_seconds, pb::Assignment* out) {
  out->set_job_id(assignment.job_id);
  out->set_sweep_id(assignment.sweep_id);
  AttemptRefToProto(assignment.attempt, out->mutable_attempt());
  out->set_attempt_number(assignment.attempt_number);
  out->set_config_json(assignment.config_json);
  out->set_checkpoint_id(assignment.checkpoint_id);
  out->set_checkpoint_step(assignment.checkpoint_step);
  out->set_lease_seconds(lease_seconds);
  out->set_program(assignment.program);
  out->set_epoch_budget(assignment.epoch_budget);
}

absl::StatusOr<MetricBatchWrite> MetricBatchFromProto(const pb::MetricBatch& batch) {
  absl::StatusOr<AttemptRef> ref = AttemptRefFromProto(batch.attempt());
  if (!ref.ok()) return ref.status();
  if (batch.seq() <= 0) return absl::InvalidArgumentError("metric batch: seq must be > 0");
  MetricBatchWrite write;
  write.attempt = *ref;
  write.points.reserve(batch.points_size());
  for (const pb::MetricPoint& point : batch.points()) {
    write.points.push_back(MetricPoint{point.name(), point.step(), point.value(), point.wall_time()});
  }
  return write;
}

// The quarantine fields of pb::Worker (issue 18); WorkerRecordToProto
// fills the rest.
void WorkerHealthToProto(const WorkerRecord& record, pb::Worker* out) {
  out->set_quarantined(record.quarantined_at.has_value());
  out->set_quarantine_cause(record.quarantine_cause);
  out->set_environment_failures(record.environment_failures);
  out->set_quarantined_at(record.quarantined_at.has_value() ? ToUnix(*record.quarantined_at) : 0);
}

}  // namespace switchyard::server
