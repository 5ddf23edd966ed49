#include "worker/agent/grpc_coordinator_client.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/rpc/status.h"

namespace switchyard::worker {

// A ReportMetrics call on the connection that was current when it opened.
class GrpcMetricStream : public MetricStream {
 public:
  GrpcMetricStream(GrpcCoordinatorClient* client,
                   std::shared_ptr<GrpcCoordinatorClient::Connection> connection)
      : client_(client),
        connection_(std::move(connection)),
        stream_(connection_->stub->ReportMetrics(&context_)) {}

  bool Write(const v1::MetricBatch& batch) override { return stream_->Write(batch); }
  bool Read(v1::MetricAck* ack) override { return stream_->Read(ack); }
  void WritesDone() override { stream_->WritesDone(); }
  absl::Status Finish() override { return client_->Convert(connection_, stream_->Finish()); }
  void Cancel() override { context_.TryCancel(); }

 private:
  GrpcCoordinatorClient* const client_;
  const std::shared_ptr<GrpcCoordinatorClient::Connection> connection_;
  // Declared before the stream: the stream refers to it for its whole life.
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::MetricBatch, v1::MetricAck>> stream_;
};

absl::StatusOr<std::unique_ptr<GrpcCoordinatorClient>> GrpcCoordinatorClient::Create(
    ChannelFactory factory, GrpcClientOptions options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = factory();
  if (!channel.ok()) return channel.status();
  auto first = std::make_shared<Connection>();
  first->channel = *std::move(channel);
  first->stub = v1::WorkerService::NewStub(first->channel);
  first->created = absl::Now();
  return std::unique_ptr<GrpcCoordinatorClient>(
      new GrpcCoordinatorClient(std::move(factory), options, std::move(first)));
}

GrpcCoordinatorClient::GrpcCoordinatorClient(ChannelFactory factory, GrpcClientOptions options,
                                             std::shared_ptr<Connection> first)
    : factory_(std::move(factory)), options_(options), connection_(std::move(first)) {}

std::shared_ptr<GrpcCoordinatorClient::Connection> GrpcCoordinatorClient::Current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return connection_;
}

absl::Status GrpcCoordinatorClient::Convert(const std::shared_ptr<Connection>& used,
                                            const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (connection_ == used && absl::Now() - used->created >= options_.min_channel_age) {
      absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = factory_();
      if (channel.ok()) {
        auto fresh = std::make_shared<Connection>();
        fresh->channel = *std::move(channel);
        fresh->stub = v1::WorkerService::NewStub(fresh->channel);
        fresh->created = absl::Now();
        connection_ = std::move(fresh);
      }
    }
  }
  return common::FromGrpcStatus(status);
}

void GrpcCoordinatorClient::SetDeadline(grpc::ClientContext* context,
                                        absl::Duration timeout) const {
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

absl::StatusOr<v1::RegisterWorkerResponse> GrpcCoordinatorClient::RegisterWorker(
    const v1::RegisterWorkerRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context, options_.rpc_timeout);
  v1::RegisterWorkerResponse response;
  std::shared_ptr<Connection> connection = Current();
  grpc::Status status = connection->stub->RegisterWorker(&context, request, &response);
  if (!status.ok()) return Convert(connection, status);
  return response;
}

absl::StatusOr<v1::HeartbeatResponse> GrpcCoordinatorClient::Heartbeat(
    const v1::HeartbeatRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context, options_.rpc_timeout);
  v1::HeartbeatResponse response;
  std::shared_ptr<Connection> connection = Current();
  grpc::Status status = connection->stub->Heartbeat(&context, request, &response);
  if (!status.ok()) return Convert(connection, status);
  return response;
}

absl::StatusOr<v1::ClaimJobResponse> GrpcCoordinatorClient::ClaimJob(
    const v1::ClaimJobRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context, options_.rpc_timeout);
  v1::ClaimJobResponse response;
  std::shared_ptr<Connection> connection = Current();
  grpc::Status status = connection->stub->ClaimJob(&context, request, &response);
  if (!status.ok()) return Convert(connection, status);
  return response;
}

absl::StatusOr<v1::FinishJobResponse> GrpcCoordinatorClient::FinishJob(
    const v1::FinishJobRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context, options_.rpc_timeout);
  v1::FinishJobResponse response;
  std::shared_ptr<Connection> connection = Current();
  grpc::Status status = connection->stub->FinishJob(&context, request, &response);
  if (!status.ok()) return Convert(connection, status);
  return response;
}

absl::StatusOr<std::unique_ptr<MetricStream>> GrpcCoordinatorClient::OpenMetricStream() {
  return std::unique_ptr<MetricStream>(std::make_unique<GrpcMetricStream>(this, Current()));
}

absl::StatusOr<int64_t> GrpcCoordinatorClient::PutCheckpoint(const v1::AttemptRef& ref,
                                                             int64_t step,
                                                             const std::string& path) {
  // Hash first: the header chunk carries the digest of the whole file. The
  // file is the daemon's own hard link, so it cannot change in between.
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("checkpoint file ", path, ": cannot read it"));
  common::Sha256 hash;
  std::string buffer(options_.chunk_bytes, '\0');
  int64_t total = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    hash.Update(std::string_view(buffer.data(), static_cast<size_t>(n)));
    total += n;
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("checkpoint file ", path, ": read error"));
  std::string digest = hash.HexDigest();
  in.clear();
  in.seekg(0);

  grpc::ClientContext context;
  SetDeadline(&context, options_.transfer_timeout);
  v1::PutCheckpointResponse response;
  std::shared_ptr<Connection> connection = Current();
  std::unique_ptr<grpc::ClientWriter<v1::CheckpointChunk>> writer =
      connection->stub->PutCheckpoint(&context, &response);
  bool first = true;
  int64_t sent = 0;
  while (first || sent < total) {
    v1::CheckpointChunk chunk;
    if (first) {
      *chunk.mutable_attempt() = ref;
      chunk.set_step(step);
      chunk.set_total_bytes(total);
      chunk.set_sha256(digest);
    }
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::streamsize n = std::max<std::streamsize>(in.gcount(), 0);
    chunk.set_data(buffer.data(), static_cast<size_t>(n));
    sent += n;
    first = false;
    if (!writer->Write(chunk)) break;  // Finish() says why
    if (n == 0) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return Convert(connection, status);
  if (sent != total) {
    return absl::DataLossError(
        absl::StrCat("checkpoint file ", path, ": changed while it was sent"));
  }
  return response.checkpoint_id();
}

absl::StatusOr<DownloadedCheckpoint> GrpcCoordinatorClient::GetCheckpoint(
    const v1::AttemptRef& ref, int64_t checkpoint_id, const std::string& dest_path) {
  grpc::ClientContext context;
  SetDeadline(&context, options_.transfer_timeout);
  v1::GetCheckpointRequest request;
  *request.mutable_attempt() = ref;
  request.set_checkpoint_id(checkpoint_id);
  std::shared_ptr<Connection> connection = Current();
  std::unique_ptr<grpc::ClientReader<v1::CheckpointChunk>> reader =
      connection->stub->GetCheckpoint(&context, request);

  const std::string partial = dest_path + ".partial";
  std::ofstream out(partial, std::ios::binary | std::ios::trunc);
  if (!out) {
    context.TryCancel();
    reader->Finish();
    return absl::UnavailableError(absl::StrCat("cannot write ", partial));
  }
  DownloadedCheckpoint result;
  std::string expected_sha;
  common::Sha256 hash;
  v1::CheckpointChunk chunk;
  bool first = true;
  while (reader->Read(&chunk)) {
    if (first) {
      result.step = chunk.step();
      result.size_bytes = chunk.total_bytes();
      expected_sha = chunk.sha256();
      first = false;
    }
    hash.Update(chunk.data());
    out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
  }
  grpc::Status status = reader->Finish();
  out.close();
  auto fail = [&](absl::Status s) {
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    return s;
  };
  if (!status.ok()) return fail(Convert(connection, status));
  if (first) {
    return fail(absl::DataLossError(absl::StrCat("checkpoint ", checkpoint_id, ": empty stream")));
  }
  if (!out) return fail(absl::UnavailableError(absl::StrCat("cannot write ", partial)));
  std::error_code error;
  auto size = static_cast<int64_t>(std::filesystem::file_size(partial, error));
  std::string digest = hash.HexDigest();
  if (error || size != result.size_bytes || digest != expected_sha) {
    return fail(absl::DataLossError(absl::StrCat(
        "checkpoint ", checkpoint_id, ": received ", size, " bytes with sha256 ", digest,
        ", expected ", result.size_bytes, " bytes with sha256 ", expected_sha)));
  }
  std::filesystem::rename(partial, dest_path, error);
  if (error) {
    return fail(absl::UnavailableError(
        absl::StrCat("cannot rename ", partial, " to ", dest_path, ": ", error.message())));
  }
  return result;
}

}  // namespace switchyard::worker
