// The gRPC adapters: each handler checks the caller's role, converts the
// request, calls the Coordinator and converts the answer back. No SQL and no
// policy here.
#ifndef SWITCHYARD_SERVER_SERVICE_SERVICES_H_
#define SWITCHYARD_SERVER_SERVICE_SERVICES_H_

#include "server/core/coordinator.h"
#include "server/service/auth.h"
#include "switchyard/v1/switchyard.grpc.pb.h"

namespace switchyard::server {

// Thread-safe (the Coordinator is). Does not own its arguments.
class SweepServiceImpl final : public v1::SweepService::Service {
 public:
  SweepServiceImpl(Coordinator* coordinator, const Authenticator* auth)
      : coordinator_(coordinator), auth_(auth) {}

  grpc::Status SubmitSweep(grpc::ServerContext*, const v1::SubmitSweepRequest*,
                           v1::SubmitSweepResponse*) override;
  grpc::Status GetSweep(grpc::ServerContext*, const v1::GetSweepRequest*, v1::Sweep*) override;
  grpc::Status ListSweeps(grpc::ServerContext*, const v1::ListSweepsRequest*,
                          v1::ListSweepsResponse*) override;
  grpc::Status WatchSweep(grpc::ServerContext*, const v1::WatchSweepRequest*,
                          grpc::ServerWriter<v1::SweepEvent>*) override;
  grpc::Status CancelSweep(grpc::ServerContext*, const v1::CancelRequest*,
                           v1::CancelResponse*) override;
  grpc::Status RetrySweep(grpc::ServerContext*, const v1::RetrySweepRequest*,
                          v1::RetrySweepResponse*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*,
                        v1::ListJobsResponse*) override;
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest*, v1::Job*) override;
  grpc::Status QueryMetrics(grpc::ServerContext*, const v1::QueryMetricsRequest*,
                            grpc::ServerWriter<v1::QueryMetricsResponse>*) override;
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                           v1::ListWorkersResponse*) override;
  grpc::Status UnquarantineWorker(grpc::ServerContext*, const v1::UnquarantineWorkerRequest*,
                                  v1::Worker*) override;

  // Views (issue 15; the contracts are the Coordinator's, server/core/coordinator.h).
  // QuerySeries: Coordinator::QuerySeries. sweep_id must be positive
  // (INVALID_ARGUMENT); an unset after_step reads every point.
  grpc::Status QuerySeries(grpc::ServerContext*, const v1::QuerySeriesRequest*,
                           v1::QuerySeriesResponse*) override;
  // Aggregate: Coordinator::Aggregate. sweep_id must be positive. Each group's
  // key maps every group_by key to the group's value; sd is NaN for n < 2.
  grpc::Status Aggregate(grpc::ServerContext*, const v1::AggregateRequest*,
                         v1::AggregateResponse*) override;
  // TailMetrics: Coordinator::SubscribeMetrics. The first message, with no
  // points, says that the subscription is in place: every point stored after
  // it was sent is delivered (or counted in `dropped`).
  // Then one message per wake-up with the points queued since, oldest first
  // (at most 10,000 per message), each carrying the running total of points
  // dropped. Ends with OK when the client cancels or goes, CANCELLED when
  // the coordinator stops.
  grpc::Status TailMetrics(grpc::ServerContext*, const v1::TailMetricsRequest*,
                           grpc::ServerWriter<v1::TailMetricsResponse>*) override;
  // ListCheckpoints: Coordinator::ListCheckpoints (newest first; NOT_FOUND for
  // an unknown job); job_id must be positive. No file path goes out.
  grpc::Status ListCheckpoints(grpc::ServerContext*, const v1::ListCheckpointsRequest*,
                               v1::ListCheckpointsResponse*) override;

 private:
  Coordinator* const coordinator_;
  const Authenticator* const auth_;
};

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  WorkerServiceImpl(Coordinator* coordinator, const Authenticator* auth)
      : coordinator_(coordinator), auth_(auth) {}

  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest*,
                              v1::RegisterWorkerResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*,
                         v1::HeartbeatResponse*) override;
  grpc::Status ClaimJob(grpc::ServerContext*, const v1::ClaimJobRequest*,
                        v1::ClaimJobResponse*) override;
  grpc::Status ReportMetrics(grpc::ServerContext*,
                             grpc::ServerReaderWriter<v1::MetricAck, v1::MetricBatch>*) override;
  grpc::Status PutCheckpoint(grpc::ServerContext*, grpc::ServerReader<v1::CheckpointChunk>*,
                             v1::PutCheckpointResponse*) override;
  grpc::Status GetCheckpoint(grpc::ServerContext*, const v1::GetCheckpointRequest*,
                             grpc::ServerWriter<v1::CheckpointChunk>*) override;
  grpc::Status FinishJob(grpc::ServerContext*, const v1::FinishJobRequest*,
                         v1::FinishJobResponse*) override;

 private:
  Coordinator* const coordinator_;
  const Authenticator* const auth_;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_SERVICE_SERVICES_H_
