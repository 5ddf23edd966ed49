// The CLI's one door to the coordinator: the SweepService calls it uses, with
// deadlines, behind an interface so that commands are tested against a fake.
//
// Every error a call returns comes from ServerError() or UnreachableError()
// (client/errors.h), so it maps to exit code 2 or 3.
//
// Thread safety: the gRPC CoordinatorClient (ConnectToCoordinator) may be
// called from many threads at once (`switchyard ui` does); a fake need only
// be as safe as its tests need. A SweepEventReader or MetricTailReader may be
// read on a thread of its own while other threads make other calls, Cancel()
// may be called from any thread, and every reader is destroyed before its
// client.
#ifndef SWITCHYARD_CLIENT_COORDINATOR_CLIENT_H_
#define SWITCHYARD_CLIENT_COORDINATOR_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "switchyard/v1/switchyard.pb.h"

namespace switchyard::client {

namespace pb = ::switchyard::v1;

// An open WatchSweep stream.
class SweepEventReader {
 public:
  virtual ~SweepEventReader() = default;
  // Blocks until the next event; false once the stream has ended (then call
  // Finish() for the reason).
  virtual bool Read(pb::SweepEvent* event) = 0;
  // Why the stream ended: OK after the done event, CANCELLED after Cancel().
  virtual absl::Status Finish() = 0;
  // Makes a blocked Read() return false. Any thread may call it.
  virtual void Cancel() = 0;
};

// An open TailMetrics stream.
class MetricTailReader {
 public:
  virtual ~MetricTailReader() = default;
  // Blocks until the next batch of points; false once the stream has ended
  // (then call Finish() for the reason).
  virtual bool Read(pb::TailMetricsResponse* batch) = 0;
  // Why the stream ended: CANCELLED after Cancel().
  virtual absl::Status Finish() = 0;
  // Makes a blocked Read() return false. Any thread may call it.
  virtual void Cancel() = 0;
};

class CoordinatorClient {
 public:
  virtual ~CoordinatorClient() = default;

  virtual absl::StatusOr<pb::SubmitSweepResponse> SubmitSweep(
      const pb::SubmitSweepRequest& request) = 0;
  virtual absl::StatusOr<pb::Sweep> GetSweep(int64_t sweep_id) = 0;
  virtual absl::StatusOr<std::vector<pb::Sweep>> ListSweeps() = 0;
  virtual absl::StatusOr<std::unique_ptr<SweepEventReader>> WatchSweep(int64_t sweep_id) = 0;
  virtual absl::StatusOr<pb::CancelResponse> Cancel(const pb::CancelRequest& request) = 0;
  virtual absl::StatusOr<pb::RetrySweepResponse> RetrySweep(
      const pb::RetrySweepRequest& request) = 0;
  // state UNSPECIFIED = every state.
  virtual absl::StatusOr<std::vector<pb::Job>> ListJobs(int64_t sweep_id, pb::JobState state) = 0;
  virtual absl::StatusOr<pb::Job> GetJob(int64_t job_id) = 0;
  // Streams the points in the server's order (job, name, step) into `sink`;
  // a sink error stops the stream and is returned as is.
  virtual absl::Status QueryMetrics(
      const pb::QueryMetricsRequest& request,
      const std::function<absl::Status(const pb::JobMetricPoint&)>& sink) = 0;
  virtual absl::StatusOr<std::vector<pb::Worker>> ListWorkers() = 0;
  // Lets a quarantined worker claim again; returns it. The default (for
  // fakes) is UNIMPLEMENTED.
  virtual absl::StatusOr<pb::Worker> UnquarantineWorker(int64_t worker_id) {
    (void)worker_id;
    return absl::UnimplementedError("UnquarantineWorker");
  }

  // What views need (issue 15, docs/ui.md). The defaults (for fakes) are
  // UNIMPLEMENTED.
  // Downsampled series of a sweep's jobs.
  virtual absl::StatusOr<pb::QuerySeriesResponse> QuerySeries(
      const pb::QuerySeriesRequest& request) {
    (void)request;
    return absl::UnimplementedError("QuerySeries");
  }
  // Grouped mean, sd and n of a metric.
  virtual absl::StatusOr<pb::AggregateResponse> Aggregate(const pb::AggregateRequest& request) {
    (void)request;
    return absl::UnimplementedError("Aggregate");
  }
  // Points as the coordinator stores them, until Cancel(); no deadline.
  virtual absl::StatusOr<std::unique_ptr<MetricTailReader>> TailMetrics(
      const pb::TailMetricsRequest& request) {
    (void)request;
    return absl::UnimplementedError("TailMetrics");
  }
  // A job's checkpoints, oldest first.
  virtual absl::StatusOr<std::vector<pb::CheckpointInfo>> ListCheckpoints(int64_t job_id) {
    (void)job_id;
    return absl::UnimplementedError("ListCheckpoints");
  }
};

struct ClientOptions {
  std::string target;       // HOST:PORT
  std::string token;        // the client token
  std::string tls_ca_file;  // non-empty: TLS trusting this CA
  bool tls = false;         // TLS with the system's roots
  double connect_timeout_seconds = 5;
  double call_timeout_seconds = 30;  // unary calls; streams have none
};

// Opens a channel and waits up to connect_timeout_seconds for it to connect.
// UnreachableError when it does not; a bad CA file is a local error.
absl::StatusOr<std::unique_ptr<CoordinatorClient>> ConnectToCoordinator(
    const ClientOptions& options);

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_COORDINATOR_CLIENT_H_
