// CoordinatorClient over gRPC, on channels from common/rpc/channel.h (which
// attach the bearer token to every call).
//
// Unary calls have a deadline of `rpc_timeout`; checkpoint transfers one of
// `transfer_timeout`; metric streams have none (their uploader cancels them).
// Calls fail fast while the coordinator is unreachable (no wait-for-ready):
// the callers own the retry policy (backoff with jitter).
//
// A channel that failed to connect waits out gRPC's own reconnect backoff
// (1 s growing 1.6x up to 2 min) and fails every call meanwhile, so a
// coordinator back after a short outage stayed unreachable for many seconds
// more (ChannelResetConnectionBackoff did not help in gRPC 1.51). After an
// UNAVAILABLE the client therefore makes a fresh channel, at most once per
// `min_channel_age`, and the callers' own backoff paces the attempts.
//
// Thread safety: all methods may be called from any thread at once.
#ifndef SWITCHYARD_WORKER_AGENT_GRPC_COORDINATOR_CLIENT_H_
#define SWITCHYARD_WORKER_AGENT_GRPC_COORDINATOR_CLIENT_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "worker/agent/coordinator_client.h"

namespace switchyard::worker {

struct GrpcClientOptions {
  absl::Duration rpc_timeout = absl::Seconds(15);
  absl::Duration min_channel_age = absl::Milliseconds(500);
  absl::Duration transfer_timeout = absl::Minutes(10);
  size_t chunk_bytes = 1 << 20;  // checkpoint chunk size
};

class GrpcCoordinatorClient : public CoordinatorClient {
 public:
  using ChannelFactory = std::function<absl::StatusOr<std::shared_ptr<grpc::Channel>>()>;

  // Makes its first channel now; INVALID_ARGUMENT etc. from the factory.
  static absl::StatusOr<std::unique_ptr<GrpcCoordinatorClient>> Create(
      ChannelFactory factory, GrpcClientOptions options = {});

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
  // A channel and its stub; calls and streams hold one while they run.
  struct Connection {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::WorkerService::Stub> stub;
    absl::Time created;
  };

  GrpcCoordinatorClient(ChannelFactory factory, GrpcClientOptions options,
                        std::shared_ptr<Connection> first);
  std::shared_ptr<Connection> Current() const;
  // Converts the status; after UNAVAILABLE replaces `used` with a fresh
  // channel unless that happened less than min_channel_age ago.
  absl::Status Convert(const std::shared_ptr<Connection>& used, const grpc::Status& status);
  void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) const;

  const ChannelFactory factory_;
  const GrpcClientOptions options_;
  mutable std::mutex mutex_;
  std::shared_ptr<Connection> connection_;  // guarded by mutex_

  friend class GrpcMetricStream;
};

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_GRPC_COORDINATOR_CLIENT_H_
