#include "server/service/services.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/rpc/status.h"
#include "server/service/convert.h"
#include "switchyard/v1/request_parsing.h"

namespace switchyard::server {
namespace {

using common::ToGrpcStatus;

grpc::Status InvalidArgument(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

// Ids in requests are positive; 0 means "not given".
grpc::Status RequireId(int64_t id, const char* field) {
  if (id <= 0) return InvalidArgument(absl::StrCat(field, ": must be a positive id"));
  return grpc::Status::OK;
}

#define SY_GRPC_RETURN_IF_ERROR(expr)    \
  do {                                   \
    grpc::Status sy_grpc_status_ = (expr); \
    if (!sy_grpc_status_.ok()) return sy_grpc_status_; \
  } while (0)

constexpr size_t kCheckpointChunkBytes = 1 << 20;
constexpr size_t kTailPointsPerMessage = 10'000;

void JobMetricPointToProto(const JobMetricPoint& p, v1::JobMetricPoint* out) {
  out->set_job_id(p.job_id);
  v1::MetricPoint* point = out->mutable_point();
  point->set_name(p.point.name);
  point->set_step(p.point.step);
  point->set_value(p.point.value);
  point->set_wall_time(p.point.wall_time);
}

void SeriesToProto(const SeriesResult& series, v1::Series* out) {
  out->set_job_id(series.job_id);
  out->set_name(series.name);
  out->set_points(series.points);
  out->set_last_step(series.last_step);
  out->mutable_buckets()->Reserve(static_cast<int>(series.buckets.size()));
  for (const SeriesBucket& b : series.buckets) {
    v1::SeriesBucket* bucket = out->add_buckets();
    bucket->set_first_step(b.first_step);
    bucket->set_last_step(b.last_step);
    bucket->set_min(b.min);
    bucket->set_max(b.max);
    bucket->set_last(b.last);
    bucket->set_count(b.count);
    bucket->set_min_step(b.min_step);
    bucket->set_max_step(b.max_step);
  }
}

void CurveToProto(const std::vector<std::string>& group_by, const results::Curve& curve,
                  v1::AggregateGroup* out) {
  for (size_t i = 0; i < group_by.size() && i < curve.key.size(); ++i) {
    (*out->mutable_key())[group_by[i]] = curve.key[i];
  }
  for (const results::CurvePoint& p : curve.points) {
    v1::AggregatePoint* point = out->add_points();
    point->set_x(p.x);
    point->set_mean(p.y.mean);
    point->set_sd(p.y.stddev);
    point->set_n(p.y.n);
    point->set_min(p.y.min);
    point->set_max(p.y.max);
  }
  for (int64_t id : curve.job_ids) out->add_job_ids(id);
}

}  // namespace

// ------------------------------------------------------------ SweepService

grpc::Status SweepServiceImpl::SubmitSweep(grpc::ServerContext* context,
                                           const v1::SubmitSweepRequest* request,
                                           v1::SubmitSweepResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  absl::StatusOr<common::SweepDefinition> sweep = SweepFromProto(request->spec());
  if (!sweep.ok()) return ToGrpcStatus(sweep.status());
  absl::StatusOr<SubmitResult> result = coordinator_->SubmitSweep(*sweep, request->dry_run());
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_sweep_id(result->sweep_id);
  response->set_job_count(result->job_count);
  for (const std::string& config : result->first_configs) response->add_first_configs(config);
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::GetSweep(grpc::ServerContext* context,
                                        const v1::GetSweepRequest* request, v1::Sweep* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->sweep_id(), "sweep_id"));
  absl::StatusOr<SweepRecord> sweep = coordinator_->GetSweep(request->sweep_id());
  if (!sweep.ok()) return ToGrpcStatus(sweep.status());
  SweepRecordToProto(*sweep, response);
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::ListSweeps(grpc::ServerContext* context,
                                          const v1::ListSweepsRequest*,
                                          v1::ListSweepsResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  absl::StatusOr<std::vector<SweepRecord>> sweeps = coordinator_->ListSweeps();
  if (!sweeps.ok()) return ToGrpcStatus(sweeps.status());
  for (const SweepRecord& sweep : *sweeps) SweepRecordToProto(sweep, response->add_sweeps());
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::WatchSweep(grpc::ServerContext* context,
                                          const v1::WatchSweepRequest* request,
                                          grpc::ServerWriter<v1::SweepEvent>* writer) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->sweep_id(), "sweep_id"));
  std::vector<int64_t> reported;
  v1::StateCounts last_counts;
  bool first = true;
  while (!context->IsCancelled()) {
    // The first snapshot goes out at once; later ones when something changed.
    absl::StatusOr<SweepProgress> progress = coordinator_->WaitForProgress(
        request->sweep_id(), first ? absl::ZeroDuration() : absl::Seconds(1), &reported);
    if (!progress.ok()) return ToGrpcStatus(progress.status());
    v1::SweepEvent event;
    SweepRecordToProto(progress->sweep, event.mutable_sweep());
    for (const JobRecord& job : progress->newly_finished) {
      JobRecordToProto(job, event.add_newly_finished());
    }
    event.set_done(progress->done);
    bool counts_changed = event.sweep().counts().SerializeAsString() !=
                          last_counts.SerializeAsString();
    if (first || counts_changed || event.newly_finished_size() > 0 || event.done()) {
      if (!writer->Write(event)) return grpc::Status::OK;  // the client left
      last_counts = event.sweep().counts();
    }
    first = false;
    if (progress->done) return grpc::Status::OK;
  }
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::CancelSweep(grpc::ServerContext* context,
                                           const v1::CancelRequest* request,
                                           v1::CancelResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  if (request->sweep_id() < 0 || request->job_id() < 0 ||
      (request->sweep_id() == 0) == (request->job_id() == 0)) {
    return InvalidArgument("cancel: give exactly one of sweep_id and job_id");
  }
  absl::StatusOr<CancelResult> result =
      coordinator_->Cancel(request->sweep_id(), request->job_id());
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_cancelled_pending(result->cancelled_pending);
  response->set_cancel_ordered(result->cancel_ordered);
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::RetrySweep(grpc::ServerContext* context,
                                          const v1::RetrySweepRequest* request,
                                          v1::RetrySweepResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->sweep_id(), "sweep_id"));
  std::vector<JobState> states;
  for (int state : request->states()) {
    absl::StatusOr<JobState> s = JobStateFromProto(static_cast<v1::JobState>(state));
    if (!s.ok()) return ToGrpcStatus(s.status());
    states.push_back(*s);
  }
  absl::StatusOr<int64_t> requeued = coordinator_->Retry(request->sweep_id(), states);
  if (!requeued.ok()) return ToGrpcStatus(requeued.status());
  response->set_requeued(*requeued);
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::ListJobs(grpc::ServerContext* context,
                                        const v1::ListJobsRequest* request,
                                        v1::ListJobsResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->sweep_id(), "sweep_id"));
  std::optional<JobState> state;
  if (request->state() != v1::JOB_STATE_UNSPECIFIED) {
    absl::StatusOr<JobState> s = JobStateFromProto(request->state());
    if (!s.ok()) return ToGrpcStatus(s.status());
    state = *s;
  }
  absl::StatusOr<std::vector<JobRecord>> jobs = coordinator_->ListJobs(request->sweep_id(), state);
  if (!jobs.ok()) return ToGrpcStatus(jobs.status());
  for (const JobRecord& job : *jobs) JobRecordToProto(job, response->add_jobs());
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::GetJob(grpc::ServerContext* context,
                                      const v1::GetJobRequest* request, v1::Job* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->job_id(), "job_id"));
  absl::StatusOr<JobRecord> job = coordinator_->GetJob(request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  JobRecordToProto(*job, response);
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::QueryMetrics(grpc::ServerContext* context,
                                            const v1::QueryMetricsRequest* request,
                                            grpc::ServerWriter<v1::QueryMetricsResponse>* writer) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->sweep_id(), "sweep_id"));
  MetricQuery query;
  query.sweep_id = request->sweep_id();
  query.job_ids.assign(request->job_ids().begin(), request->job_ids().end());
  query.names.assign(request->names().begin(), request->names().end());
  bool client_left = false;
  absl::Status status =
      coordinator_->QueryMetrics(query, [&](const std::vector<JobMetricPoint>& points) {
        if (context->IsCancelled()) {
          client_left = true;
          return false;
        }
        v1::QueryMetricsResponse chunk;
        for (const JobMetricPoint& p : points) JobMetricPointToProto(p, chunk.add_points());
        if (!writer->Write(chunk)) client_left = true;
        return !client_left;
      });
  if (client_left) return grpc::Status(grpc::StatusCode::CANCELLED, "the client left");
  return ToGrpcStatus(status);
}

grpc::Status SweepServiceImpl::ListWorkers(grpc::ServerContext* context,
                                           const v1::ListWorkersRequest*,
                                           v1::ListWorkersResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  auto workers = coordinator_->ListWorkers();
  if (!workers.ok()) return ToGrpcStatus(workers.status());
  for (const auto& [worker, state] : *workers) {
    v1::Worker* out = response->add_workers();
    WorkerRecordToProto(worker, state, out);
    WorkerHealthToProto(worker, out);
  }
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::UnquarantineWorker(grpc::ServerContext* context,
                                                  const v1::UnquarantineWorkerRequest* request,
                                                  v1::Worker* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->worker_id(), "worker_id"));
  auto worker = coordinator_->UnquarantineWorker(request->worker_id());
  if (!worker.ok()) return ToGrpcStatus(worker.status());
  WorkerRecordToProto(worker->first, worker->second, response);
  WorkerHealthToProto(worker->first, response);
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::QuerySeries(grpc::ServerContext* context,
                                           const v1::QuerySeriesRequest* request,
                                           v1::QuerySeriesResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->sweep_id(), "sweep_id"));
  SeriesQuery query;
  query.sweep_id = request->sweep_id();
  query.job_ids.assign(request->job_ids().begin(), request->job_ids().end());
  query.names.assign(request->names().begin(), request->names().end());
  query.max_points = request->max_points();
  if (request->has_after_step()) query.after_step = request->after_step();
  absl::StatusOr<std::vector<SeriesResult>> series = coordinator_->QuerySeries(query);
  if (!series.ok()) return ToGrpcStatus(series.status());
  response->mutable_series()->Reserve(static_cast<int>(series->size()));
  for (const SeriesResult& s : *series) SeriesToProto(s, response->add_series());
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::Aggregate(grpc::ServerContext* context,
                                         const v1::AggregateRequest* request,
                                         v1::AggregateResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->sweep_id(), "sweep_id"));
  AggregateQuery query;
  query.sweep_id = request->sweep_id();
  query.name = request->name();
  query.group_by.assign(request->group_by().begin(), request->group_by().end());
  query.x = request->x();
  query.include_stopped = request->include_stopped();
  query.max_points = request->max_points();
  absl::StatusOr<AggregateResult> result = coordinator_->Aggregate(query);
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (const results::Curve& curve : result->groups) {
    CurveToProto(result->group_by, curve, response->add_groups());
  }
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::TailMetrics(grpc::ServerContext* context,
                                           const v1::TailMetricsRequest* request,
                                           grpc::ServerWriter<v1::TailMetricsResponse>* writer) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  TailFilter filter;
  filter.sweep_id = request->sweep_id();
  if (static_cast<size_t>(request->names_size()) > kMaxViewNames) {
    return InvalidArgument(absl::StrCat("names: at most ", kMaxViewNames, " names, got ",
                                        request->names_size()));
  }
  filter.names.insert(request->names().begin(), request->names().end());
  absl::StatusOr<std::unique_ptr<MetricSubscription>> subscription =
      coordinator_->SubscribeMetrics(std::move(filter));
  if (!subscription.ok()) return ToGrpcStatus(subscription.status());
  // An empty first message tells the client that the subscription is in place.
  if (!writer->Write(v1::TailMetricsResponse())) return grpc::Status::OK;  // the client left
  std::vector<JobMetricPoint> points;
  while (!context->IsCancelled()) {
    // Wakes at least once a second to notice a client that left.
    MetricSubscription::Wait wait = (*subscription)->Next(absl::Seconds(1), &points);
    if (wait == MetricSubscription::Wait::kClosed) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the coordinator is shutting down");
    }
    if (wait == MetricSubscription::Wait::kTimeout) continue;
    const int64_t dropped = (*subscription)->dropped();
    for (size_t first = 0; first < points.size(); first += kTailPointsPerMessage) {
      v1::TailMetricsResponse message;
      const size_t end = std::min(points.size(), first + kTailPointsPerMessage);
      message.mutable_points()->Reserve(static_cast<int>(end - first));
      for (size_t i = first; i < end; ++i) JobMetricPointToProto(points[i], message.add_points());
      message.set_dropped(dropped);
      if (!writer->Write(message)) return grpc::Status::OK;  // the client left
    }
  }
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::ListCheckpoints(grpc::ServerContext* context,
                                               const v1::ListCheckpointsRequest* request,
                                               v1::ListCheckpointsResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kClient));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->job_id(), "job_id"));
  absl::StatusOr<std::vector<CheckpointRecord>> checkpoints =
      coordinator_->ListCheckpoints(request->job_id());
  if (!checkpoints.ok()) return ToGrpcStatus(checkpoints.status());
  for (const CheckpointRecord& c : *checkpoints) {
    v1::CheckpointInfo* out = response->add_checkpoints();
    out->set_id(c.id);
    out->set_job_id(c.job_id);
    out->set_attempt_id(c.attempt_id);
    out->set_step(c.step);
    out->set_size_bytes(c.size_bytes);
    out->set_sha256(c.sha256);
    out->set_created_at(common::ToUnixSeconds(c.created_at));
  }
  return grpc::Status::OK;
}

// ----------------------------------------------------------- WorkerService

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext* context,
                                               const v1::RegisterWorkerRequest* request,
                                               v1::RegisterWorkerResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kWorker));
  absl::StatusOr<WorkerRecord> worker = WorkerFromRegisterRequest(*request);
  if (!worker.ok()) return ToGrpcStatus(worker.status());
  absl::StatusOr<int64_t> id = coordinator_->RegisterWorker(*std::move(worker));
  if (!id.ok()) return ToGrpcStatus(id.status());
  response->set_worker_id(*id);
  response->set_lease_seconds(absl::ToDoubleSeconds(coordinator_->options().lease));
  response->set_heartbeat_interval_seconds(
      absl::ToDoubleSeconds(coordinator_->options().heartbeat_interval));
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                          const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kWorker));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->worker_id(), "worker_id"));
  if (request->attempts_size() > 4096) return InvalidArgument("attempts: at most 4096");
  std::vector<AttemptRef> attempts;
  for (const v1::AttemptRef& ref : request->attempts()) {
    absl::StatusOr<AttemptRef> converted = AttemptRefFromProto(ref);
    if (!converted.ok()) return ToGrpcStatus(converted.status());
    attempts.push_back(*converted);
  }
  auto result = coordinator_->Heartbeat(request->worker_id(), attempts, request->draining(),
                                        request->slots_busy());
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (const Order& order : result->orders) {
    v1::Order* out = response->add_orders();
    out->set_attempt_id(order.attempt_id);
    switch (order.kind) {
      case OrderKind::kCancel: out->set_kind(v1::Order::KIND_CANCEL); break;
      case OrderKind::kAbandon: out->set_kind(v1::Order::KIND_ABANDON); break;
      case OrderKind::kStop: out->set_kind(v1::Order::KIND_STOP); break;
    }
  }
  response->set_drain(result->drain);
  return grpc::Status::OK;
}

namespace {

// The checks of a ClaimJobRequest, alone or as FinishJob's claim_next;
// `field` prefixes the names in the message.
grpc::Status CheckClaim(const v1::ClaimJobRequest& request, const std::string& field) {
  SY_GRPC_RETURN_IF_ERROR(RequireId(request.worker_id(), (field + "worker_id").c_str()));
  if (request.device().empty() || request.device().size() > 64) {
    return InvalidArgument(field + "device: must be 1 to 64 bytes");
  }
  return grpc::Status::OK;
}

void ClaimToProto(const std::optional<Assignment>& claimed, absl::Duration lease,
                  v1::ClaimJobResponse* response) {
  response->set_has_job(claimed.has_value());
  if (claimed.has_value()) {
    AssignmentToProto(*claimed, absl::ToDoubleSeconds(lease), response->mutable_assignment());
  }
}

}  // namespace

grpc::Status WorkerServiceImpl::ClaimJob(grpc::ServerContext* context,
                                         const v1::ClaimJobRequest* request,
                                         v1::ClaimJobResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kWorker));
  SY_GRPC_RETURN_IF_ERROR(CheckClaim(*request, ""));
  auto claimed = coordinator_->ClaimJob(request->worker_id(), request->device());
  if (!claimed.ok()) return ToGrpcStatus(claimed.status());
  ClaimToProto(*claimed, coordinator_->options().lease, response);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ReportMetrics(
    grpc::ServerContext* context, grpc::ServerReaderWriter<v1::MetricAck, v1::MetricBatch>* stream) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kWorker));
  v1::MetricBatch batch;
  int64_t stream_attempt = 0;
  grpc::Status unreadable;  // a batch that could not be parsed ends the stream
  while (v1::ReadRequest(stream, &batch, &unreadable)) {
    absl::StatusOr<MetricBatchWrite> write = MetricBatchFromProto(batch);
    if (!write.ok()) return ToGrpcStatus(write.status());
    if (stream_attempt == 0) stream_attempt = write->attempt.attempt_id;
    if (write->attempt.attempt_id != stream_attempt) {
      return InvalidArgument(absl::StrCat("metric stream: carries attempt ", stream_attempt,
                                          ", got a batch of attempt ", write->attempt.attempt_id));
    }
    absl::StatusOr<std::vector<absl::Status>> results = coordinator_->ReportMetrics({*write});
    if (!results.ok()) return ToGrpcStatus(results.status());
    if (!results->front().ok()) return ToGrpcStatus(results->front());
    // Acknowledged only now: the batch's transaction has committed.
    v1::MetricAck ack;
    ack.set_attempt_id(stream_attempt);
    ack.set_acked_seq(batch.seq());
    if (!stream->Write(ack)) break;
  }
  return unreadable;
}

grpc::Status WorkerServiceImpl::PutCheckpoint(grpc::ServerContext* context,
                                              grpc::ServerReader<v1::CheckpointChunk>* reader,
                                              v1::PutCheckpointResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kWorker));
  v1::CheckpointChunk chunk;
  grpc::Status unreadable;  // a chunk that could not be parsed ends the upload
  if (!v1::ReadRequest(reader, &chunk, &unreadable)) {
    return unreadable.ok() ? InvalidArgument("checkpoint: the stream was empty") : unreadable;
  }
  absl::StatusOr<AttemptRef> ref = AttemptRefFromProto(chunk.attempt());
  if (!ref.ok()) return ToGrpcStatus(ref.status());
  const int64_t step = chunk.step();
  auto upload = coordinator_->BeginCheckpoint(*ref, step, chunk.total_bytes(), chunk.sha256());
  if (!upload.ok()) return ToGrpcStatus(upload.status());
  do {
    if (absl::Status s = (*upload)->Append(chunk.data()); !s.ok()) return ToGrpcStatus(s);
  } while (v1::ReadRequest(reader, &chunk, &unreadable));
  if (!unreadable.ok()) return unreadable;  // the upload is dropped, not committed
  absl::StatusOr<int64_t> id = coordinator_->CommitCheckpoint(*ref, step, *std::move(upload));
  if (!id.ok()) return ToGrpcStatus(id.status());
  response->set_checkpoint_id(*id);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::GetCheckpoint(grpc::ServerContext* context,
                                              const v1::GetCheckpointRequest* request,
                                              grpc::ServerWriter<v1::CheckpointChunk>* writer) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kWorker));
  SY_GRPC_RETURN_IF_ERROR(RequireId(request->checkpoint_id(), "checkpoint_id"));
  absl::StatusOr<AttemptRef> ref = AttemptRefFromProto(request->attempt());
  if (!ref.ok()) return ToGrpcStatus(ref.status());
  absl::StatusOr<CheckpointRecord> record =
      coordinator_->CheckpointFor(*ref, request->checkpoint_id());
  if (!record.ok()) return ToGrpcStatus(record.status());
  std::string path = coordinator_->CheckpointPath(*record);
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        absl::StrCat("checkpoint ", record->id, ": its file is missing"));
  }
  std::string buffer(kCheckpointChunkBytes, '\0');
  bool first = true;
  grpc::Status status = grpc::Status::OK;
  while (true) {
    size_t n = std::fread(buffer.data(), 1, buffer.size(), file);
    if (n == 0 && !first) break;
    v1::CheckpointChunk out;
    if (first) {
      out.set_step(record->step);
      out.set_total_bytes(record->size_bytes);
      out.set_sha256(record->sha256);
      first = false;
    }
    out.set_data(buffer.data(), n);
    if (!writer->Write(out)) {
      status = grpc::Status(grpc::StatusCode::CANCELLED, "the worker left");
      break;
    }
    if (n < buffer.size()) break;
  }
  std::fclose(file);
  return status;
}

grpc::Status WorkerServiceImpl::FinishJob(grpc::ServerContext* context,
                                          const v1::FinishJobRequest* request,
                                          v1::FinishJobResponse* response) {
  SY_GRPC_RETURN_IF_ERROR(auth_->Check(*context, Role::kWorker));
  absl::StatusOr<AttemptRef> ref = AttemptRefFromProto(request->attempt());
  if (!ref.ok()) return ToGrpcStatus(ref.status());
  absl::StatusOr<AttemptOutcome> outcome = AttemptOutcomeFromProto(request->outcome());
  if (!outcome.ok()) return ToGrpcStatus(outcome.status());
  if (request->has_claim_next()) {
    const v1::ClaimJobRequest& next = request->claim_next();
    SY_GRPC_RETURN_IF_ERROR(CheckClaim(next, "claim_next."));
    auto result = coordinator_->FinishJobAndClaim(*ref, *outcome, request->cause(),
                                                  request->summary_json(), next.worker_id(),
                                                  next.device());
    if (!result.ok()) return ToGrpcStatus(result.status());
    response->set_job_state(JobStateToProto(result->state));
    ClaimToProto(result->next, coordinator_->options().lease, response->mutable_next());
    return grpc::Status::OK;
  }
  absl::StatusOr<JobState> state =
      coordinator_->FinishJob(*ref, *outcome, request->cause(), request->summary_json());
  if (!state.ok()) return ToGrpcStatus(state.status());
  response->set_job_state(JobStateToProto(*state));
  return grpc::Status::OK;
}

}  // namespace switchyard::server
