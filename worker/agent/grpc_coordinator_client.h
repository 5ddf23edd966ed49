// CoordinatorClient over gRPC, on a channel from common/rpc/channel.h (which
// attaches the bearer token to every call).
//
// Unary calls have a deadline of `rpc_timeout`; checkpoint transfers one of
// `transfer_timeout`; metric streams have none (their uploader cancels them).
// Calls fail fast while the coordinator is unreachable (no wait-for-ready):
// the callers own the retry policy (backoff with jitter).
//
// Thread safety: all methods may be called from any thread at once.
#ifndef SWITCHYARD_WORKER_AGENT_GRPC_COORDINATOR_CLIENT_H_
#define SWITCHYARD_WORKER_AGENT_GRPC_COORDINATOR_CLIENT_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "worker/agent/coordinator_client.h"

namespace switchyard::worker {

struct GrpcClientOptions {
  absl::Duration rpc_timeout = absl::Seconds(15);
  absl::Duration transfer_timeout = absl::Minutes(10);
  size_t chunk_bytes = 1 << 20;  // checkpoint chunk size
};

class GrpcCoordinatorClient : public CoordinatorClient {
 public:
  GrpcCoordinatorClient(std::shared_ptr<grpc::Channel> channel, GrpcClientOptions options = {});

  absl::StatusOr<v1::RegisterWorkerResponse> RegisterWorker(
      const v1::RegisterWorkerRequest& request) override;
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request) override;
  absl::StatusOr<v1::ClaimJobResponse> ClaimJob(const v1::ClaimJobRequest& request) override;
  absl::StatusOr<v1::FinishJobResponse> FinishJob(const v1::FinishJobRequest& request) override;
  absl::StatusOr<std::unique_ptr<MetricStream>> OpenMetricStream() override;
  absl::StatusOr<int64_t> PutCheckpoint(const v1::AttemptRef& ref, int64_t step,
                                        const std::string& path) override;
  absl::StatusOr<DownloadedCheckpoint> GetCheckpoint(const v1::AttemptRef& ref,
                                                     int64_t checkpoint_id,
                                                     const std::string& dest_path) override;

 private:
  void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) const;

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  GrpcClientOptions options_;
};

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_GRPC_COORDINATOR_CLIENT_H_
