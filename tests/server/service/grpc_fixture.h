// The fixture of the in-process gRPC tests (grpc_test.cc, roles_test.cc,
// hostile_requests_test.cc): a real CoordinatorServer on a free loopback port
// over a real SQLite store in a folder of its own, a SweepService stub with
// the client token and a WorkerService stub with the worker token.
#ifndef SWITCHYARD_TESTS_SERVER_SERVICE_GRPC_FIXTURE_H_
#define SWITCHYARD_TESTS_SERVER_SERVICE_GRPC_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/rpc/channel.h"
#include "server/core/coordinator.h"
#include "server/service/server.h"
#include "server/store/sqlite/database.h"
#include "server/store/sqlite_store.h"
#include "switchyard/v1/switchyard.grpc.pb.h"
#include "tests/server/test_store.h"

namespace switchyard::server {

namespace pb = ::switchyard::v1;

constexpr char kClientToken[] = "client-token-0123456789";
constexpr char kWorkerToken[] = "worker-token-9876543210";

class GrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("grpc_test_");
    auto store = OpenTestStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    files_ = std::make_unique<CheckpointFiles>(dir_.string());
    coordinator_ =
        std::make_unique<Coordinator>(store_.get(), common::Clock::Real(),
                                      files_.get(), CoordinatorOptions{});
    ServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    server_options.client_token = kClientToken;
    server_options.worker_token = kWorkerToken;
    auto server = CoordinatorServer::Start(coordinator_.get(), server_options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = pb::SweepService::NewStub(Channel(kClientToken));
    worker_ = pb::WorkerService::NewStub(Channel(kWorkerToken));
  }

  void TearDown() override {
    coordinator_->Stop();
    server_.reset();
    coordinator_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& token) {
    common::ChannelOptions options;
    options.target = server_->address();
    options.token = token;
    auto channel = common::MakeChannel(options);
    EXPECT_TRUE(channel.ok());
    return *channel;
  }

  pb::SweepSpec Spec(std::vector<int64_t> seeds) {
    pb::SweepSpec spec;
    spec.set_name("grpc-test");
    pb::Axis* axis = spec.add_axes();
    axis->set_key("seed");
    for (int64_t s : seeds) axis->add_values()->set_int_value(s);
    pb::Axis* epochs = spec.add_axes();
    epochs->set_key("epochs");
    epochs->add_values()->set_int_value(1);
    return spec;
  }

  int64_t Submit(std::vector<int64_t> seeds) {
    grpc::ClientContext context;
    pb::SubmitSweepRequest request;
    *request.mutable_spec() = Spec(std::move(seeds));
    pb::SubmitSweepResponse response;
    grpc::Status status = client_->SubmitSweep(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.sweep_id();
  }

  int64_t Register(const std::string& name = "test-worker") {
    grpc::ClientContext context;
    pb::RegisterWorkerRequest request;
    request.set_name(name);
    request.set_hostname("localhost");
    pb::Device* device = request.add_devices();
    device->set_name("cpu");
    device->set_kind("cpu");
    device->set_slots(2);
    pb::RegisterWorkerResponse response;
    grpc::Status status = worker_->RegisterWorker(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_GT(response.lease_seconds(), 0);
    return response.worker_id();
  }

  pb::Assignment Claim(int64_t worker_id) {
    grpc::ClientContext context;
    pb::ClaimJobRequest request;
    request.set_worker_id(worker_id);
    request.set_device("cpu");
    pb::ClaimJobResponse response;
    grpc::Status status = worker_->ClaimJob(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(response.has_job());
    return response.assignment();
  }

  // Sends the batches on one stream; returns the highest ack and the status.
  std::pair<int64_t, grpc::Status> Report(
      const std::vector<pb::MetricBatch>& batches) {
    grpc::ClientContext context;
    auto stream = worker_->ReportMetrics(&context);
    int64_t acked = 0;
    for (const pb::MetricBatch& batch : batches) {
      if (!stream->Write(batch)) break;
      pb::MetricAck ack;
      if (!stream->Read(&ack)) break;
      acked = std::max(acked, ack.acked_seq());
    }
    stream->WritesDone();
    pb::MetricAck ignored;
    while (stream->Read(&ignored)) {
    }
    return {acked, stream->Finish()};
  }

  // A batch of one point for the attempt `ref`.
  static pb::MetricBatch OnePoint(const pb::AttemptRef& ref, int64_t seq,
                                  const std::string& name, int64_t step,
                                  double value, double wall_time = 1.7e9) {
    pb::MetricBatch batch;
    *batch.mutable_attempt() = ref;
    batch.set_seq(seq);
    pb::MetricPoint* point = batch.add_points();
    point->set_name(name);
    point->set_step(step);
    point->set_value(value);
    point->set_wall_time(wall_time);
    return batch;
  }

  int64_t MetricRows(int64_t sweep_id) {
    grpc::ClientContext context;
    pb::QueryMetricsRequest request;
    request.set_sweep_id(sweep_id);
    auto reader = client_->QueryMetrics(&context, request);
    pb::QueryMetricsResponse chunk;
    int64_t rows = 0;
    while (reader->Read(&chunk)) rows += chunk.points_size();
    EXPECT_TRUE(reader->Finish().ok());
    return rows;
  }

  // PRAGMA integrity_check on the database, from a connection of its own:
  // "ok" when the file is sound.
  std::string IntegrityCheck() {
    sqlite::DatabaseOptions options;
    options.path = (dir_ / "switchyard.db").string();
    options.read_only = true;
    auto db = sqlite::Database::Open(options);
    if (!db.ok()) return std::string(db.status().message());
    auto stmt = (*db)->Cached("PRAGMA integrity_check");
    if (!stmt.ok()) return std::string(stmt.status().message());
    std::string result;
    while (true) {
      absl::StatusOr<bool> row = (*stmt)->Step();
      if (!row.ok()) return std::string(row.status().message());
      if (!*row) break;
      if (!result.empty()) result += "\n";
      result += (*stmt)->ColumnText(0);
    }
    return result;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<CheckpointFiles> files_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<CoordinatorServer> server_;
  std::unique_ptr<pb::SweepService::Stub> client_;
  std::unique_ptr<pb::WorkerService::Stub> worker_;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_TESTS_SERVER_SERVICE_GRPC_FIXTURE_H_
