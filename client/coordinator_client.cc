#include "client/coordinator_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "common/rpc/channel.h"
#include "switchyard/v1/switchyard.grpc.pb.h"

namespace switchyard::client {
namespace {

std::chrono::system_clock::time_point After(double seconds) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

// An open server stream of `Message`s (WatchSweep, TailMetrics).
template <typename Base, typename Request, typename Message>
class GrpcStreamReader final : public Base {
 public:
  template <typename Open>
  GrpcStreamReader(const Request& request, Open open) : request_(request) {
    reader_ = open(&context_, request_);
  }
  // gRPC wants every stream finished before its reader goes away.
  ~GrpcStreamReader() override {
    if (!finished_) {
      context_.TryCancel();
      reader_->Finish();
    }
  }
  bool Read(Message* message) override { return reader_->Read(message); }
  absl::Status Finish() override {
    finished_ = true;
    grpc::Status status = reader_->Finish();
    return status.ok() ? absl::OkStatus() : ServerError(status);
  }
  void Cancel() override { context_.TryCancel(); }

 private:
  bool finished_ = false;
  grpc::ClientContext context_;
  Request request_;
  std::unique_ptr<grpc::ClientReader<Message>> reader_;
};

class GrpcCoordinatorClient final : public CoordinatorClient {
 public:
  GrpcCoordinatorClient(std::shared_ptr<grpc::Channel> channel, double call_timeout)
      : channel_(std::move(channel)),
        stub_(pb::SweepService::NewStub(channel_)),
        call_timeout_(call_timeout) {}

  absl::StatusOr<pb::SubmitSweepResponse> SubmitSweep(
      const pb::SubmitSweepRequest& request) override {
    return Unary<pb::SubmitSweepResponse>([&](grpc::ClientContext* c, pb::SubmitSweepResponse* r) {
      return stub_->SubmitSweep(c, request, r);
    });
  }

  absl::StatusOr<pb::Sweep> GetSweep(int64_t sweep_id) override {
    pb::GetSweepRequest request;
    request.set_sweep_id(sweep_id);
    return Unary<pb::Sweep>(
        [&](grpc::ClientContext* c, pb::Sweep* r) { return stub_->GetSweep(c, request, r); });
  }

  absl::StatusOr<std::vector<pb::Sweep>> ListSweeps() override {
    pb::ListSweepsRequest request;
    absl::StatusOr<pb::ListSweepsResponse> response =
        Unary<pb::ListSweepsResponse>([&](grpc::ClientContext* c, pb::ListSweepsResponse* r) {
          return stub_->ListSweeps(c, request, r);
        });
    if (!response.ok()) return response.status();
    return std::vector<pb::Sweep>(response->sweeps().begin(), response->sweeps().end());
  }

  absl::StatusOr<std::unique_ptr<SweepEventReader>> WatchSweep(int64_t sweep_id) override {
    pb::WatchSweepRequest request;
    request.set_sweep_id(sweep_id);
    auto* stub = stub_.get();
    return std::unique_ptr<SweepEventReader>(
        new GrpcStreamReader<SweepEventReader, pb::WatchSweepRequest, pb::SweepEvent>(
            request, [stub](grpc::ClientContext* c, const pb::WatchSweepRequest& r) {
              return stub->WatchSweep(c, r);
            }));
  }

  absl::StatusOr<pb::CancelResponse> Cancel(const pb::CancelRequest& request) override {
    return Unary<pb::CancelResponse>([&](grpc::ClientContext* c, pb::CancelResponse* r) {
      return stub_->CancelSweep(c, request, r);
    });
  }

  absl::StatusOr<pb::RetrySweepResponse> RetrySweep(const pb::RetrySweepRequest& request) override {
    return Unary<pb::RetrySweepResponse>([&](grpc::ClientContext* c, pb::RetrySweepResponse* r) {
      return stub_->RetrySweep(c, request, r);
    });
  }

  absl::StatusOr<std::vector<pb::Job>> ListJobs(int64_t sweep_id, pb::JobState state) override {
    pb::ListJobsRequest request;
    request.set_sweep_id(sweep_id);
    request.set_state(state);
    absl::StatusOr<pb::ListJobsResponse> response =
        Unary<pb::ListJobsResponse>([&](grpc::ClientContext* c, pb::ListJobsResponse* r) {
          return stub_->ListJobs(c, request, r);
        });
    if (!response.ok()) return response.status();
    return std::vector<pb::Job>(response->jobs().begin(), response->jobs().end());
  }

  absl::StatusOr<pb::Job> GetJob(int64_t job_id) override {
    pb::GetJobRequest request;
    request.set_job_id(job_id);
    return Unary<pb::Job>(
        [&](grpc::ClientContext* c, pb::Job* r) { return stub_->GetJob(c, request, r); });
  }

  absl::Status QueryMetrics(
      const pb::QueryMetricsRequest& request,
      const std::function<absl::Status(const pb::JobMetricPoint&)>& sink) override {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<pb::QueryMetricsResponse>> reader =
        stub_->QueryMetrics(&context, request);
    pb::QueryMetricsResponse chunk;
    while (reader->Read(&chunk)) {
      for (const pb::JobMetricPoint& point : chunk.points()) {
        if (absl::Status status = sink(point); !status.ok()) {
          context.TryCancel();
          reader->Finish();  // drains; its CANCELLED status is ours, not news
          return status;
        }
      }
    }
    grpc::Status status = reader->Finish();
    return status.ok() ? absl::OkStatus() : ServerError(status);
  }

  absl::StatusOr<std::vector<pb::Worker>> ListWorkers() override {
    pb::ListWorkersRequest request;
    absl::StatusOr<pb::ListWorkersResponse> response =
        Unary<pb::ListWorkersResponse>([&](grpc::ClientContext* c, pb::ListWorkersResponse* r) {
          return stub_->ListWorkers(c, request, r);
        });
    if (!response.ok()) return response.status();
    return std::vector<pb::Worker>(response->workers().begin(), response->workers().end());
  }

  absl::StatusOr<pb::Worker> UnquarantineWorker(int64_t worker_id) override {
    pb::UnquarantineWorkerRequest request;
    request.set_worker_id(worker_id);
    return Unary<pb::Worker>([&](grpc::ClientContext* c, pb::Worker* r) {
      return stub_->UnquarantineWorker(c, request, r);
    });
  }

  absl::StatusOr<pb::QuerySeriesResponse> QuerySeries(
      const pb::QuerySeriesRequest& request) override {
    return Unary<pb::QuerySeriesResponse>([&](grpc::ClientContext* c, pb::QuerySeriesResponse* r) {
      return stub_->QuerySeries(c, request, r);
    });
  }

  absl::StatusOr<pb::AggregateResponse> Aggregate(const pb::AggregateRequest& request) override {
    return Unary<pb::AggregateResponse>([&](grpc::ClientContext* c, pb::AggregateResponse* r) {
      return stub_->Aggregate(c, request, r);
    });
  }

  absl::StatusOr<std::unique_ptr<MetricTailReader>> TailMetrics(
      const pb::TailMetricsRequest& request) override {
    auto* stub = stub_.get();
    return std::unique_ptr<MetricTailReader>(
        new GrpcStreamReader<MetricTailReader, pb::TailMetricsRequest, pb::TailMetricsResponse>(
            request, [stub](grpc::ClientContext* c, const pb::TailMetricsRequest& r) {
              return stub->TailMetrics(c, r);
            }));
  }

  absl::StatusOr<std::vector<pb::CheckpointInfo>> ListCheckpoints(int64_t job_id) override {
    pb::ListCheckpointsRequest request;
    request.set_job_id(job_id);
    absl::StatusOr<pb::ListCheckpointsResponse> response = Unary<pb::ListCheckpointsResponse>(
        [&](grpc::ClientContext* c, pb::ListCheckpointsResponse* r) {
          return stub_->ListCheckpoints(c, request, r);
        });
    if (!response.ok()) return response.status();
    return std::vector<pb::CheckpointInfo>(response->checkpoints().begin(),
                                           response->checkpoints().end());
  }

 private:
  template <typename Response, typename Call>
  absl::StatusOr<Response> Unary(Call call) {
    grpc::ClientContext context;
    context.set_deadline(After(call_timeout_));
    Response response;
    grpc::Status status = call(&context, &response);
    if (!status.ok()) return ServerError(status);
    return response;
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::SweepService::Stub> stub_;
  double call_timeout_;
};

// Why the channel did not connect. A call that does not wait for the
// connection fails at once with gRPC's last connection error (a refused
// connection, a failed TLS handshake); TLS mix-ups look alike from the client,
// so the hint names the flag to check.
std::string ConnectFailureDetail(const std::shared_ptr<grpc::Channel>& channel,
                                 const ClientOptions& options) {
  std::string detail =
      absl::StrCat("no connection within ", options.connect_timeout_seconds, " s");
  auto stub = pb::SweepService::NewStub(channel);
  grpc::ClientContext context;
  context.set_wait_for_ready(false);
  context.set_deadline(After(1));
  pb::ListSweepsResponse ignored;
  grpc::Status status = stub->ListSweeps(&context, pb::ListSweepsRequest(), &ignored);
  if (!status.ok() && !status.error_message().empty()) {
    absl::StrAppend(&detail, " (", status.error_message(), ")");
  }
  const bool tls = options.tls || !options.tls_ca_file.empty();
  if (tls) {
    absl::StrAppend(&detail,
                    "; if it serves TLS, check that --tls-ca holds the CA that signed its "
                    "certificate and that the certificate names ",
                    options.target.substr(0, options.target.rfind(':')));
  } else {
    absl::StrAppend(&detail, "; if it serves TLS, pass --tls-ca FILE");
  }
  return detail;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorClient>> ConnectToCoordinator(
    const ClientOptions& options) {
  common::ChannelOptions channel_options;
  channel_options.target = options.target;
  channel_options.token = options.token;
  channel_options.tls_ca_file = options.tls_ca_file;
  channel_options.tls = options.tls;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = common::MakeChannel(channel_options);
  if (!channel.ok()) return channel.status();
  // Connect first, so that "nobody listens there" (exit 3) is told apart from
  // an error the coordinator sends (exit 2).
  if (!(*channel)->WaitForConnected(After(options.connect_timeout_seconds))) {
    return UnreachableError(options.target, ConnectFailureDetail(*channel, options));
  }
  return std::unique_ptr<CoordinatorClient>(
      new GrpcCoordinatorClient(*std::move(channel), options.call_timeout_seconds));
}

}  // namespace switchyard::client
