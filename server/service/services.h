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
