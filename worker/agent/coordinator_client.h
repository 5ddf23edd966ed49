// The worker daemon's view of the coordinator's WorkerService, behind an
// interface so that the daemon, the job runner and the metric uploader are
// tested without a network (tests/worker/agent/fakes.h holds the fake; the
// gRPC implementation is grpc_coordinator_client.h).
//
// Messages are the wire types of proto/switchyard/v1: the worker is a thin
// client of that contract and converting them twice would add nothing.
//
// Thread safety: every method of CoordinatorClient may be called from any
// thread at once. A MetricStream belongs to one uploader: one thread may
// Write while another Reads (gRPC's rule for bidirectional streams); Cancel
// may be called from any thread.
//
// Status codes are the coordinator's (see the proto and
// server/core/coordinator.h), plus what the transport adds:
//   UNAVAILABLE         the coordinator cannot be reached: retry with backoff
//   DEADLINE_EXCEEDED   no answer in time: retry with backoff
//   FAILED_PRECONDITION a stale fencing pair: stop that job at once
//   INVALID_ARGUMENT    a malformed request: do not send it again
//   UNAUTHENTICATED     a wrong worker token
//   NOT_FOUND           an unknown worker id, job or checkpoint
//   DATA_LOSS           checkpoint bytes that do not match their size or sha256
#ifndef SWITCHYARD_WORKER_AGENT_COORDINATOR_CLIENT_H_
#define SWITCHYARD_WORKER_AGENT_COORDINATOR_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "switchyard/v1/switchyard.grpc.pb.h"

namespace switchyard::worker {

namespace v1 = ::switchyard::v1;

// One ReportMetrics call: the stream of one attempt's batches and their acks.
class MetricStream {
 public:
  virtual ~MetricStream() = default;
  // False when the stream is broken; Finish() then tells why.
  virtual bool Write(const v1::MetricBatch& batch) = 0;
  // Blocks for the next ack. False when the stream has ended (after
  // WritesDone, an error or Cancel); Finish() then tells why.
  virtual bool Read(v1::MetricAck* ack) = 0;
  // No more batches will be written (half-close).
  virtual void WritesDone() = 0;
  // Ends a stream whose Read returned false, and returns its status.
  virtual absl::Status Finish() = 0;
  // Breaks the stream from any thread: pending and later Reads and Writes
  // return false.
  virtual void Cancel() = 0;
};

// Where a downloaded checkpoint went.
struct DownloadedCheckpoint {
  int64_t step = 0;
  int64_t size_bytes = 0;
};

class CoordinatorClient {
 public:
  virtual ~CoordinatorClient() = default;

  virtual absl::StatusOr<v1::RegisterWorkerResponse> RegisterWorker(
      const v1::RegisterWorkerRequest& request) = 0;
  virtual absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request) = 0;
  virtual absl::StatusOr<v1::ClaimJobResponse> ClaimJob(const v1::ClaimJobRequest& request) = 0;
  virtual absl::StatusOr<v1::FinishJobResponse> FinishJob(const v1::FinishJobRequest& request) = 0;

  // Opens a ReportMetrics stream. Opening is lazy in gRPC: an unreachable
  // coordinator usually shows up as a failed Write or Read, not here.
  virtual absl::StatusOr<std::unique_ptr<MetricStream>> OpenMetricStream() = 0;

  // Streams the file at `path` as the checkpoint of attempt `ref` at `step`,
  // with its size and sha256 in the first chunk. Returns the checkpoint id.
  // A file that cannot be read is NOT_FOUND naming the path.
  virtual absl::StatusOr<int64_t> PutCheckpoint(const v1::AttemptRef& ref, int64_t step,
                                                const std::string& path) = 0;

  // Downloads checkpoint `checkpoint_id` for the running attempt `ref` into
  // `dest_path` (written to a temporary name, checked against the size and
  // sha256 of the first chunk, then renamed; DATA_LOSS on a mismatch, and
  // nothing is left at dest_path on any error).
  virtual absl::StatusOr<DownloadedCheckpoint> GetCheckpoint(const v1::AttemptRef& ref,
                                                             int64_t checkpoint_id,
                                                             const std::string& dest_path) = 0;
};

// True for the codes after which trying the same call again later can work.
bool IsRetryable(const absl::Status& status);

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_COORDINATOR_CLIENT_H_
