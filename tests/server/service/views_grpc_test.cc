// The views' RPCs (issue 15) end to end over gRPC: QuerySeries with its
// proto3-optional cursor, Aggregate's wire form, TailMetrics live from a
// worker's metric stream (and a slow reader that does not hold ingestion
// back, and the end of the stream when the coordinator stops), and
// ListCheckpoints.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <future>
#include <string>
#include <vector>

#include "common/base/sha256.h"
#include "tests/server/service/grpc_fixture.h"

namespace switchyard::server {
namespace {

class ViewsGrpcTest : public GrpcTest {
 protected:
  static pb::MetricBatch Batch(const pb::AttemptRef& ref, int64_t seq, const std::string& name,
                               int64_t first_step, int n, double value = 0.5) {
    pb::MetricBatch batch;
    *batch.mutable_attempt() = ref;
    batch.set_seq(seq);
    for (int i = 0; i < n; ++i) {
      pb::MetricPoint* point = batch.add_points();
      point->set_name(name);
      point->set_step(first_step + i);
      point->set_value(value + i);
      point->set_wall_time(1.7e9);
    }
    return batch;
  }

  grpc::Status Series(const pb::QuerySeriesRequest& request, pb::QuerySeriesResponse* response) {
    grpc::ClientContext context;
    return client_->QuerySeries(&context, request, response);
  }

  grpc::Status PutCheckpoint(const pb::AttemptRef& ref, int64_t step, const std::string& bytes) {
    grpc::ClientContext context;
    pb::PutCheckpointResponse response;
    auto writer = worker_->PutCheckpoint(&context, &response);
    pb::CheckpointChunk chunk;
    *chunk.mutable_attempt() = ref;
    chunk.set_step(step);
    chunk.set_total_bytes(static_cast<int64_t>(bytes.size()));
    chunk.set_sha256(common::Sha256Hex(bytes));
    chunk.set_data(bytes);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }
};

TEST_F(ViewsGrpcTest, QuerySeriesTellsAnUnsetCursorFromStepZero) {
  const int64_t sweep = Submit({1});
  pb::Assignment a = Claim(Register());
  auto [acked, status] = Report({Batch(a.attempt(), 1, "loss", 0, 500)});
  ASSERT_TRUE(status.ok()) << status.error_message();

  pb::QuerySeriesRequest request;
  request.set_sweep_id(sweep);
  request.set_max_points(50);
  pb::QuerySeriesResponse response;
  ASSERT_TRUE(Series(request, &response).ok());
  ASSERT_EQ(response.series_size(), 1);
  const pb::Series& series = response.series(0);
  EXPECT_EQ(series.job_id(), a.job_id());
  EXPECT_EQ(series.name(), "loss");
  EXPECT_EQ(series.points(), 500);
  EXPECT_EQ(series.last_step(), 499);
  ASSERT_EQ(series.buckets_size(), 50);
  const pb::SeriesBucket& first = series.buckets(0);
  EXPECT_EQ(first.first_step(), 0);
  EXPECT_EQ(first.last_step(), 9);
  EXPECT_EQ(first.count(), 10);
  EXPECT_EQ(first.min(), 0.5);
  EXPECT_EQ(first.min_step(), 0);
  EXPECT_EQ(first.max(), 9.5);
  EXPECT_EQ(first.max_step(), 9);
  EXPECT_EQ(first.last(), 9.5);

  // after_step = 0, set: step 0 is left out. (Unset reads it.)
  request.set_after_step(0);
  request.set_max_points(0);  // the default, 1000
  ASSERT_TRUE(Series(request, &response).ok());
  ASSERT_EQ(response.series_size(), 1);
  EXPECT_EQ(response.series(0).points(), 499);
  EXPECT_EQ(response.series(0).buckets_size(), 499);
  EXPECT_EQ(response.series(0).buckets(0).first_step(), 1);
  request.set_after_step(499);
  ASSERT_TRUE(Series(request, &response).ok());
  ASSERT_EQ(response.series_size(), 1);
  EXPECT_EQ(response.series(0).points(), 0);
  EXPECT_EQ(response.series(0).last_step(), 499);
}

TEST_F(ViewsGrpcTest, AggregateOnTheWire) {
  const int64_t sweep = Submit({1, 2});
  const int64_t worker = Register();
  for (int i = 0; i < 2; ++i) {
    pb::Assignment a = Claim(worker);
    auto [acked, status] = Report({Batch(a.attempt(), 1, "accuracy", 1, 1, 0.5 + 0.25 * i)});
    ASSERT_TRUE(status.ok()) << status.error_message();
    grpc::ClientContext context;
    pb::FinishJobRequest finish;
    *finish.mutable_attempt() = a.attempt();
    finish.set_outcome(pb::ATTEMPT_OUTCOME_SUCCEEDED);
    pb::FinishJobResponse finished;
    ASSERT_TRUE(worker_->FinishJob(&context, finish, &finished).ok());
  }
  for (const char* x : {"final", "step"}) {
    grpc::ClientContext context;
    pb::AggregateRequest request;
    request.set_sweep_id(sweep);
    request.set_name("accuracy");
    request.add_group_by("epochs");
    request.set_x(x);
    pb::AggregateResponse response;
    grpc::Status status = client_->Aggregate(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.groups_size(), 1) << x;
    const pb::AggregateGroup& group = response.groups(0);
    EXPECT_EQ(group.key().at("epochs"), "1");
    EXPECT_EQ(group.job_ids_size(), 2);
    ASSERT_EQ(group.points_size(), 1);
    EXPECT_EQ(group.points(0).x(), std::string(x) == "final" ? 0 : 1);
    EXPECT_EQ(group.points(0).mean(), 0.625);
    EXPECT_EQ(group.points(0).n(), 2);
    EXPECT_EQ(group.points(0).min(), 0.5);
    EXPECT_EQ(group.points(0).max(), 0.75);
    EXPECT_NEAR(group.points(0).sd(), 0.1767766952966369, 1e-15);
  }
  // One job per group: sd is NaN on the wire.
  grpc::ClientContext context;
  pb::AggregateRequest request;
  request.set_sweep_id(sweep);
  request.set_name("accuracy");
  request.add_group_by("seed");
  request.set_x("final");
  pb::AggregateResponse response;
  ASSERT_TRUE(client_->Aggregate(&context, request, &response).ok());
  ASSERT_EQ(response.groups_size(), 2);
  EXPECT_EQ(response.groups(0).key().at("seed"), "1");
  EXPECT_EQ(response.groups(0).points(0).n(), 1);
  EXPECT_TRUE(std::isnan(response.groups(0).points(0).sd()));
}

TEST_F(ViewsGrpcTest, TailMetricsDeliversAWorkersPointsWithinASecond) {
  const int64_t sweep = Submit({1});
  pb::Assignment a = Claim(Register());

  grpc::ClientContext context;
  pb::TailMetricsRequest request;
  request.set_sweep_id(sweep);
  request.add_names("loss");
  auto reader = client_->TailMetrics(&context, request);
  pb::TailMetricsResponse first;
  ASSERT_TRUE(reader->Read(&first));  // subscribed
  EXPECT_EQ(first.points_size(), 0);

  const auto sent = std::chrono::steady_clock::now();
  auto [acked, status] = Report({Batch(a.attempt(), 1, "loss", 0, 3),
                                 Batch(a.attempt(), 2, "accuracy", 0, 3)});
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(acked, 2);

  auto read = std::async(std::launch::async, [&] {
    pb::TailMetricsResponse message;
    bool ok = reader->Read(&message);
    return std::make_pair(ok, message);
  });
  ASSERT_EQ(read.wait_for(std::chrono::seconds(1)), std::future_status::ready)
      << "no point within 1 s";
  auto [ok, message] = read.get();
  EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(1));
  ASSERT_TRUE(ok);
  ASSERT_EQ(message.points_size(), 3);  // the accuracy batch is filtered out
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(message.points(i).job_id(), a.job_id());
    EXPECT_EQ(message.points(i).point().name(), "loss");
    EXPECT_EQ(message.points(i).point().step(), i);
    EXPECT_EQ(message.points(i).point().value(), 0.5 + i);
  }
  EXPECT_EQ(message.dropped(), 0);
  context.TryCancel();
  pb::TailMetricsResponse ignored;
  while (reader->Read(&ignored)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// A tail that nobody reads fills its HTTP/2 window and then its queue; the
// worker's batches are still acknowledged at the store's pace.
TEST_F(ViewsGrpcTest, ASlowTailDoesNotHoldIngestionBack) {
  const int64_t sweep = Submit({1});
  pb::Assignment a = Claim(Register());
  grpc::ClientContext context;
  pb::TailMetricsRequest request;
  request.set_sweep_id(sweep);
  auto reader = client_->TailMetrics(&context, request);
  pb::TailMetricsResponse first;
  ASSERT_TRUE(reader->Read(&first));  // subscribed

  std::vector<pb::MetricBatch> batches;
  for (int i = 0; i < 100; ++i) {
    batches.push_back(Batch(a.attempt(), i + 1, "loss", i * 1000, 1000));
  }
  const auto start = std::chrono::steady_clock::now();
  auto [acked, status] = Report(batches);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(acked, 100);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
  EXPECT_EQ(MetricRows(sweep), 100'000);

  // Reading now: the newest points are there, and the total says what was lost.
  pb::TailMetricsResponse message;
  int64_t last_step = -1, dropped = 0, got = 0;
  while (last_step < 99'999 && reader->Read(&message)) {
    got += message.points_size();
    if (message.points_size() > 0) {
      last_step = message.points(message.points_size() - 1).point().step();
    }
    dropped = message.dropped();
  }
  EXPECT_EQ(last_step, 99'999);
  EXPECT_EQ(got + dropped, 100'000);
  context.TryCancel();
  while (reader->Read(&message)) {
  }
  reader->Finish();
}

TEST_F(ViewsGrpcTest, TailMetricsEndsWhenTheCoordinatorStops) {
  grpc::ClientContext context;
  auto reader = client_->TailMetrics(&context, pb::TailMetricsRequest());
  pb::TailMetricsResponse first;
  ASSERT_TRUE(reader->Read(&first));  // subscribed
  auto finished = std::async(std::launch::async, [&] {
    pb::TailMetricsResponse ignored;
    while (reader->Read(&ignored)) {
    }
    return reader->Finish();
  });
  coordinator_->Stop();
  ASSERT_EQ(finished.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  grpc::Status status = finished.get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
}

TEST_F(ViewsGrpcTest, ListCheckpointsNewestFirstWithoutPaths) {
  Submit({1});
  pb::Assignment a = Claim(Register());
  ASSERT_TRUE(PutCheckpoint(a.attempt(), 10, "ten").ok());
  ASSERT_TRUE(PutCheckpoint(a.attempt(), 20, "twenty").ok());
  grpc::ClientContext context;
  pb::ListCheckpointsRequest request;
  request.set_job_id(a.job_id());
  pb::ListCheckpointsResponse response;
  ASSERT_TRUE(client_->ListCheckpoints(&context, request, &response).ok());
  ASSERT_EQ(response.checkpoints_size(), 2);
  EXPECT_EQ(response.checkpoints(0).step(), 20);
  EXPECT_EQ(response.checkpoints(0).size_bytes(), 6);
  EXPECT_EQ(response.checkpoints(0).sha256(), common::Sha256Hex("twenty"));
  EXPECT_EQ(response.checkpoints(0).job_id(), a.job_id());
  EXPECT_EQ(response.checkpoints(0).attempt_id(), a.attempt().attempt_id());
  EXPECT_GT(response.checkpoints(0).created_at(), 1.7e9);
  EXPECT_GT(response.checkpoints(0).id(), response.checkpoints(1).id());
  EXPECT_EQ(response.checkpoints(1).step(), 10);
}

}  // namespace
}  // namespace switchyard::server
