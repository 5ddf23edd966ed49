// Every RPC through a real in-process gRPC server on a free loopback port,
// with a real SQLite store: roles and tokens, malformed requests, fencing and
// idempotent metric replay.
#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "common/base/sha256.h"
#include "tests/server/service/grpc_fixture.h"

namespace switchyard::server {
namespace {

TEST_F(GrpcTest, MissingWrongAndOtherRoleTokensAreRefused) {
  pb::ListSweepsRequest request;
  pb::ListSweepsResponse response;
  {
    auto stub = pb::SweepService::NewStub(Channel(""));
    grpc::ClientContext context;
    EXPECT_EQ(stub->ListSweeps(&context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    auto stub = pb::SweepService::NewStub(Channel("not-a-token"));
    grpc::ClientContext context;
    EXPECT_EQ(stub->ListSweeps(&context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    auto stub = pb::SweepService::NewStub(Channel(kWorkerToken));
    grpc::ClientContext context;
    EXPECT_EQ(stub->ListSweeps(&context, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    auto stub = pb::WorkerService::NewStub(Channel(kClientToken));
    grpc::ClientContext context;
    pb::ClaimJobRequest claim;
    claim.set_worker_id(1);
    claim.set_device("cpu");
    pb::ClaimJobResponse claimed;
    EXPECT_EQ(stub->ClaimJob(&context, claim, &claimed).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;  // the right token works
    EXPECT_TRUE(client_->ListSweeps(&context, request, &response).ok());
  }
}

TEST_F(GrpcTest, HealthServiceAnswersWithoutAToken) {
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  // grpc.health.v1.HealthCheckRequest{service: ""} encodes as zero bytes.
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request_buffer(&empty, 1);
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call = stub.PrepareUnaryCall(
      &context, "/grpc.health.v1.Health/Check", request_buffer, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  // HealthCheckResponse{status: SERVING (1)} encodes as 08 01.
  std::string bytes;
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST_F(GrpcTest, SubmitGetListAndJobs) {
  int64_t sweep_id = Submit({1, 2, 3});
  ASSERT_GT(sweep_id, 0);
  {
    grpc::ClientContext context;
    pb::GetSweepRequest request;
    request.set_sweep_id(sweep_id);
    pb::Sweep sweep;
    ASSERT_TRUE(client_->GetSweep(&context, request, &sweep).ok());
    EXPECT_EQ(sweep.name(), "grpc-test");
    EXPECT_EQ(sweep.counts().pending(), 3);
    EXPECT_EQ(sweep.state(), pb::SWEEP_STATE_ACTIVE);
  }
  {
    grpc::ClientContext context;
    pb::ListJobsRequest request;
    request.set_sweep_id(sweep_id);
    request.set_state(pb::JOB_STATE_PENDING);
    pb::ListJobsResponse jobs;
    ASSERT_TRUE(client_->ListJobs(&context, request, &jobs).ok());
    ASSERT_EQ(jobs.jobs_size(), 3);
    EXPECT_NE(jobs.jobs(0).config_json().find("\"seed\":1"), std::string::npos);
  }
  {
    grpc::ClientContext context;
    pb::ListSweepsResponse sweeps;
    ASSERT_TRUE(client_->ListSweeps(&context, pb::ListSweepsRequest(), &sweeps).ok());
    EXPECT_EQ(sweeps.sweeps_size(), 1);
  }
  {
    grpc::ClientContext context;
    pb::SubmitSweepRequest request;
    *request.mutable_spec() = Spec({7, 8});
    request.set_dry_run(true);
    pb::SubmitSweepResponse response;
    ASSERT_TRUE(client_->SubmitSweep(&context, request, &response).ok());
    EXPECT_EQ(response.sweep_id(), 0);
    EXPECT_EQ(response.job_count(), 2);
  }
}

TEST_F(GrpcTest, MalformedRequestsAreInvalidArgumentAndTheServerStaysUp) {
  {
    grpc::ClientContext context;
    pb::SubmitSweepRequest request;
    pb::Axis* axis = request.mutable_spec()->add_axes();
    axis->set_key("model");
    axis->add_values()->set_string_value("lstn");
    pb::SubmitSweepResponse response;
    grpc::Status status = client_->SubmitSweep(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(),
              "model: unknown value 'lstn'; known: mlp, lstm, transformer, cisformer");
  }
  {
    grpc::ClientContext context;
    pb::SubmitSweepRequest request;
    pb::Axis* axis = request.mutable_spec()->add_axes();
    axis->set_key("seed");
    axis->add_values();  // unset oneof
    pb::SubmitSweepResponse response;
    EXPECT_EQ(client_->SubmitSweep(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    pb::GetSweepRequest request;  // id 0
    pb::Sweep sweep;
    EXPECT_EQ(client_->GetSweep(&context, request, &sweep).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    pb::GetSweepRequest request;
    request.set_sweep_id(999);
    pb::Sweep sweep;
    EXPECT_EQ(client_->GetSweep(&context, request, &sweep).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    pb::ListJobsRequest request;
    request.set_sweep_id(1);
    request.set_state(static_cast<pb::JobState>(77));
    pb::ListJobsResponse jobs;
    EXPECT_EQ(client_->ListJobs(&context, request, &jobs).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    pb::CancelRequest request;  // neither id
    pb::CancelResponse response;
    EXPECT_EQ(client_->CancelSweep(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    pb::RegisterWorkerRequest request;  // no devices
    request.set_name("w");
    pb::RegisterWorkerResponse response;
    EXPECT_EQ(worker_->RegisterWorker(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    pb::FinishJobRequest request;  // no attempt
    pb::FinishJobResponse response;
    EXPECT_EQ(worker_->FinishJob(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Still serving.
  EXPECT_GT(Submit({1}), 0);
}

TEST_F(GrpcTest, WorkerLifeCycleWithReplayAndFencing) {
  int64_t sweep_id = Submit({1});
  int64_t worker_id = Register();
  pb::Assignment assignment = Claim(worker_id);
  EXPECT_EQ(assignment.attempt_number(), 1);
  EXPECT_EQ(assignment.checkpoint_id(), 0);

  pb::MetricBatch batch;
  *batch.mutable_attempt() = assignment.attempt();
  batch.set_seq(1);
  for (int step = 100; step <= 300; step += 100) {
    pb::MetricPoint* point = batch.add_points();
    point->set_name("loss");
    point->set_step(step);
    point->set_value(1.0 / step);
  }
  auto [acked, status] = Report({batch});
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(acked, 1);
  EXPECT_EQ(MetricRows(sweep_id), 3);
  // A replay (after a reconnect) is acknowledged and changes nothing.
  auto [acked_again, replay_status] = Report({batch});
  EXPECT_TRUE(replay_status.ok());
  EXPECT_EQ(acked_again, 1);
  EXPECT_EQ(MetricRows(sweep_id), 3);

  // Heartbeat renews; a forged token gets an abandon order.
  {
    grpc::ClientContext context;
    pb::HeartbeatRequest request;
    request.set_worker_id(worker_id);
    *request.add_attempts() = assignment.attempt();
    pb::AttemptRef* forged = request.add_attempts();
    forged->set_attempt_id(assignment.attempt().attempt_id());
    forged->set_fencing_token("forged");
    pb::HeartbeatResponse response;
    ASSERT_TRUE(worker_->Heartbeat(&context, request, &response).ok());
    ASSERT_EQ(response.orders_size(), 1);
    EXPECT_EQ(response.orders(0).kind(), pb::Order::KIND_ABANDON);
  }

  // A checkpoint round trip.
  std::string bytes(3 << 20, 'c');  // more than one chunk
  int64_t checkpoint_id = 0;
  {
    grpc::ClientContext context;
    pb::PutCheckpointResponse response;
    auto writer = worker_->PutCheckpoint(&context, &response);
    pb::CheckpointChunk first;
    *first.mutable_attempt() = assignment.attempt();
    first.set_step(300);
    first.set_total_bytes(static_cast<int64_t>(bytes.size()));
    first.set_sha256(common::Sha256Hex(bytes));
    first.set_data(bytes.substr(0, 1 << 20));
    ASSERT_TRUE(writer->Write(first));
    pb::CheckpointChunk rest;
    rest.set_data(bytes.substr(1 << 20));
    ASSERT_TRUE(writer->Write(rest));
    writer->WritesDone();
    grpc::Status put = writer->Finish();
    ASSERT_TRUE(put.ok()) << put.error_message();
    checkpoint_id = response.checkpoint_id();
  }

  // Preempted: handed back, resumable.
  {
    grpc::ClientContext context;
    pb::FinishJobRequest request;
    *request.mutable_attempt() = assignment.attempt();
    request.set_outcome(pb::ATTEMPT_OUTCOME_PREEMPTED);
    request.set_cause("worker draining");
    pb::FinishJobResponse response;
    ASSERT_TRUE(worker_->FinishJob(&context, request, &response).ok());
    EXPECT_EQ(response.job_state(), pb::JOB_STATE_PENDING);
  }
  // The old attempt is now stale everywhere.
  {
    auto [stale_acked, stale] = Report({batch});
    EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(stale_acked, 0);
  }
  pb::Assignment second = Claim(worker_id);
  EXPECT_EQ(second.attempt_number(), 2);
  EXPECT_EQ(second.checkpoint_id(), checkpoint_id);
  EXPECT_EQ(second.checkpoint_step(), 300);
  {
    grpc::ClientContext context;
    pb::GetCheckpointRequest request;
    *request.mutable_attempt() = second.attempt();
    request.set_checkpoint_id(checkpoint_id);
    auto reader = worker_->GetCheckpoint(&context, request);
    pb::CheckpointChunk chunk;
    std::string received;
    std::string sha;
    while (reader->Read(&chunk)) {
      if (!chunk.sha256().empty()) sha = chunk.sha256();
      received += chunk.data();
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(received, bytes);
    EXPECT_EQ(sha, common::Sha256Hex(bytes));
  }
  {
    grpc::ClientContext context;
    pb::FinishJobRequest request;
    *request.mutable_attempt() = assignment.attempt();  // stale
    request.set_outcome(pb::ATTEMPT_OUTCOME_SUCCEEDED);
    pb::FinishJobResponse response;
    EXPECT_EQ(worker_->FinishJob(&context, request, &response).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    grpc::ClientContext context;
    pb::FinishJobRequest request;
    *request.mutable_attempt() = second.attempt();
    request.set_outcome(pb::ATTEMPT_OUTCOME_SUCCEEDED);
    request.set_summary_json("{\"summary\":true}");
    pb::FinishJobResponse response;
    ASSERT_TRUE(worker_->FinishJob(&context, request, &response).ok());
    EXPECT_EQ(response.job_state(), pb::JOB_STATE_SUCCEEDED);
  }
  {
    grpc::ClientContext context;
    pb::GetJobRequest request;
    request.set_job_id(assignment.job_id());
    pb::Job job;
    ASSERT_TRUE(client_->GetJob(&context, request, &job).ok());
    ASSERT_EQ(job.attempts_size(), 2);
    EXPECT_EQ(job.attempts(0).outcome(), pb::ATTEMPT_OUTCOME_PREEMPTED);
    EXPECT_EQ(job.attempts(1).resumed_from_step(), 300);
    EXPECT_EQ(job.failures(), 0);
    EXPECT_DOUBLE_EQ(job.final_metrics().at("loss"), 1.0 / 300);
  }
  {
    grpc::ClientContext context;
    pb::ListWorkersResponse workers;
    ASSERT_TRUE(client_->ListWorkers(&context, pb::ListWorkersRequest(), &workers).ok());
    ASSERT_EQ(workers.workers_size(), 1);
    EXPECT_EQ(workers.workers(0).state(), "alive");
    EXPECT_EQ(workers.workers(0).slots_total(), 2);
  }
}

// FinishJob with claim_next: the finish and the next claim in one call; a
// refused finish claims nothing; the last finish of a sweep gets no job.
TEST_F(GrpcTest, FinishJobCanClaimTheNextJob) {
  const int64_t sweep_id = Submit({1, 2, 3});
  const int64_t worker_id = Register();
  pb::Assignment first = Claim(worker_id);
  auto finish = [&](const pb::Assignment& a, pb::FinishJobResponse* response) {
    grpc::ClientContext context;
    pb::FinishJobRequest request;
    *request.mutable_attempt() = a.attempt();
    request.set_outcome(pb::ATTEMPT_OUTCOME_SUCCEEDED);
    request.mutable_claim_next()->set_worker_id(worker_id);
    request.mutable_claim_next()->set_device("cpu");
    return worker_->FinishJob(&context, request, response);
  };
  pb::FinishJobResponse response;
  ASSERT_TRUE(finish(first, &response).ok());
  EXPECT_EQ(response.job_state(), pb::JOB_STATE_SUCCEEDED);
  ASSERT_TRUE(response.has_next());
  ASSERT_TRUE(response.next().has_job());
  const pb::Assignment second = response.next().assignment();
  EXPECT_NE(second.job_id(), first.job_id());
  EXPECT_EQ(second.sweep_id(), sweep_id);
  EXPECT_EQ(second.attempt_number(), 1);
  EXPECT_GT(second.lease_seconds(), 0);

  // The first attempt is finished: finishing it again is stale, and the
  // claim that rides along does not happen: the third job is still pending
  // for an ordinary claim.
  pb::FinishJobResponse stale;
  EXPECT_EQ(finish(first, &stale).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_FALSE(stale.has_next());
  const pb::Assignment third = Claim(worker_id);
  EXPECT_NE(third.job_id(), first.job_id());
  EXPECT_NE(third.job_id(), second.job_id());
  EXPECT_EQ(third.attempt_number(), 1);

  // The last jobs: finished, and nothing left to claim.
  pb::FinishJobResponse before_last;
  ASSERT_TRUE(finish(third, &before_last).ok());
  ASSERT_TRUE(before_last.has_next());
  EXPECT_FALSE(before_last.next().has_job());
  pb::FinishJobResponse last;
  ASSERT_TRUE(finish(second, &last).ok());
  EXPECT_EQ(last.job_state(), pb::JOB_STATE_SUCCEEDED);
  ASSERT_TRUE(last.has_next());
  EXPECT_FALSE(last.next().has_job());

  // A bad claim_next is refused before anything is written.
  {
    grpc::ClientContext context;
    pb::FinishJobRequest request;
    *request.mutable_attempt() = second.attempt();
    request.set_outcome(pb::ATTEMPT_OUTCOME_SUCCEEDED);
    request.mutable_claim_next()->set_worker_id(worker_id);  // no device
    pb::FinishJobResponse refused;
    grpc::Status status = worker_->FinishJob(&context, request, &refused);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "claim_next.device: must be 1 to 64 bytes");
  }
}

TEST_F(GrpcTest, NonFiniteMetricEndsTheStreamWithInvalidArgument) {
  Submit({1});
  pb::Assignment assignment = Claim(Register());
  pb::MetricBatch batch = OnePoint(assignment.attempt(), 1, "loss", 1,
                                   std::numeric_limits<double>::infinity());
  auto [acked, status] = Report({batch});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(acked, 0);
}

TEST_F(GrpcTest, WatchStreamsUntilTheSweepEnds) {
  int64_t sweep_id = Submit({1});
  int64_t worker_id = Register();
  grpc::ClientContext context;
  pb::WatchSweepRequest request;
  request.set_sweep_id(sweep_id);
  auto reader = client_->WatchSweep(&context, request);
  pb::SweepEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.sweep().counts().pending(), 1);
  EXPECT_FALSE(event.done());

  pb::Assignment assignment = Claim(worker_id);
  {
    grpc::ClientContext finish_context;
    pb::FinishJobRequest finish;
    *finish.mutable_attempt() = assignment.attempt();
    finish.set_outcome(pb::ATTEMPT_OUTCOME_SUCCEEDED);
    pb::FinishJobResponse response;
    ASSERT_TRUE(worker_->FinishJob(&finish_context, finish, &response).ok());
  }
  bool saw_done = false;
  int finished = 0;
  while (reader->Read(&event)) {
    finished += event.newly_finished_size();
    if (event.done()) saw_done = true;
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_TRUE(saw_done);
  EXPECT_EQ(finished, 1);
}

}  // namespace
}  // namespace switchyard::server
