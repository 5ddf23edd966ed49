// Roles and tokens over every RPC of both services, and fencing between
// workers: issue 8's "nobody let in where they do not belong".
//   - every RPC refuses a missing, empty, malformed or wrong token with
//     UNAUTHENTICATED and the other role's token with PERMISSION_DENIED, and
//     a refused call changes nothing;
//   - a worker cannot write metrics or checkpoints, finish, renew or read
//     checkpoints for a job it does not hold.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/base/sha256.h"
#include "tests/server/service/grpc_fixture.h"

namespace switchyard::server {
namespace {

using Decorate = std::function<void(grpc::ClientContext*)>;

enum class Service { kSweep, kWorker };

struct Rpc {
  std::string name;
  Service service;
  std::function<grpc::Status(grpc::ClientContext*, pb::SweepService::Stub*,
                             pb::WorkerService::Stub*)>
      call;
};

pb::AttemptRef SomeAttempt() {
  pb::AttemptRef ref;
  ref.set_attempt_id(1);
  ref.set_fencing_token("0123456789abcdef0123456789abcdef");
  return ref;
}

// One call of every RPC, each with a well-formed request, so that only the
// credentials decide the outcome.
std::vector<Rpc> EveryRpc() {
  std::vector<Rpc> rpcs;
  auto sweep = [&](std::string name, auto call) {
    rpcs.push_back({std::move(name), Service::kSweep,
                    [call](grpc::ClientContext* c, pb::SweepService::Stub* s,
                           pb::WorkerService::Stub*) { return call(c, s); }});
  };
  auto worker = [&](std::string name, auto call) {
    rpcs.push_back({std::move(name), Service::kWorker,
                    [call](grpc::ClientContext* c, pb::SweepService::Stub*,
                           pb::WorkerService::Stub* w) { return call(c, w); }});
  };
  sweep("SubmitSweep", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::SubmitSweepRequest request;
    request.mutable_spec()->set_name("intruder");
    pb::Axis* axis = request.mutable_spec()->add_axes();
    axis->set_key("seed");
    axis->add_values()->set_int_value(99);
    pb::SubmitSweepResponse response;
    return s->SubmitSweep(c, request, &response);
  });
  sweep("GetSweep", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::GetSweepRequest request;
    request.set_sweep_id(1);
    pb::Sweep response;
    return s->GetSweep(c, request, &response);
  });
  sweep("ListSweeps", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::ListSweepsResponse response;
    return s->ListSweeps(c, pb::ListSweepsRequest(), &response);
  });
  sweep("WatchSweep", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::WatchSweepRequest request;
    request.set_sweep_id(1);
    auto reader = s->WatchSweep(c, request);
    pb::SweepEvent event;
    if (reader->Read(&event))
      c->TryCancel();  // let in: the first snapshot came
    return reader->Finish();
  });
  sweep("CancelSweep", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::CancelRequest request;
    request.set_sweep_id(1);
    pb::CancelResponse response;
    return s->CancelSweep(c, request, &response);
  });
  sweep("RetrySweep", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::RetrySweepRequest request;
    request.set_sweep_id(1);
    pb::RetrySweepResponse response;
    return s->RetrySweep(c, request, &response);
  });
  sweep("ListJobs", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::ListJobsRequest request;
    request.set_sweep_id(1);
    pb::ListJobsResponse response;
    return s->ListJobs(c, request, &response);
  });
  sweep("GetJob", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::GetJobRequest request;
    request.set_job_id(1);
    pb::Job response;
    return s->GetJob(c, request, &response);
  });
  sweep("QueryMetrics", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::QueryMetricsRequest request;
    request.set_sweep_id(1);
    auto reader = s->QueryMetrics(c, request);
    pb::QueryMetricsResponse chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish();
  });
  sweep("ListWorkers", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::ListWorkersResponse response;
    return s->ListWorkers(c, pb::ListWorkersRequest(), &response);
  });
  sweep("UnquarantineWorker", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::UnquarantineWorkerRequest request;
    request.set_worker_id(1);
    pb::Worker response;
    return s->UnquarantineWorker(c, request, &response);
  });
  sweep("QuerySeries", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::QuerySeriesRequest request;
    request.set_sweep_id(1);
    pb::QuerySeriesResponse response;
    return s->QuerySeries(c, request, &response);
  });
  sweep("Aggregate", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::AggregateRequest request;
    request.set_sweep_id(1);
    request.set_name("loss");
    request.set_x("final");
    pb::AggregateResponse response;
    return s->Aggregate(c, request, &response);
  });
  sweep("TailMetrics", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::TailMetricsRequest request;
    request.set_sweep_id(1);
    auto reader = s->TailMetrics(c, request);
    pb::TailMetricsResponse first;
    if (reader->Read(&first))
      c->TryCancel();  // let in: the subscription is in place
    return reader->Finish();
  });
  sweep("ListCheckpoints", [](grpc::ClientContext* c, pb::SweepService::Stub* s) {
    pb::ListCheckpointsRequest request;
    request.set_job_id(1);
    pb::ListCheckpointsResponse response;
    return s->ListCheckpoints(c, request, &response);
  });
  worker("RegisterWorker",
         [](grpc::ClientContext* c, pb::WorkerService::Stub* w) {
           pb::RegisterWorkerRequest request;
           request.set_name("intruder");
           pb::Device* device = request.add_devices();
           device->set_name("cpu");
           device->set_kind("cpu");
           device->set_slots(1);
           pb::RegisterWorkerResponse response;
           return w->RegisterWorker(c, request, &response);
         });
  worker("Heartbeat", [](grpc::ClientContext* c, pb::WorkerService::Stub* w) {
    pb::HeartbeatRequest request;
    request.set_worker_id(1);
    pb::HeartbeatResponse response;
    return w->Heartbeat(c, request, &response);
  });
  worker("ClaimJob", [](grpc::ClientContext* c, pb::WorkerService::Stub* w) {
    pb::ClaimJobRequest request;
    request.set_worker_id(1);
    request.set_device("cpu");
    pb::ClaimJobResponse response;
    return w->ClaimJob(c, request, &response);
  });
  worker("ReportMetrics",
         [](grpc::ClientContext* c, pb::WorkerService::Stub* w) {
           auto stream = w->ReportMetrics(c);
           pb::MetricBatch batch;
           *batch.mutable_attempt() = SomeAttempt();
           batch.set_seq(1);
           pb::MetricPoint* point = batch.add_points();
           point->set_name("loss");
           point->set_step(1);
           point->set_value(0.5);
           stream->Write(batch);
           stream->WritesDone();
           pb::MetricAck ack;
           while (stream->Read(&ack)) {
           }
           return stream->Finish();
         });
  worker("PutCheckpoint",
         [](grpc::ClientContext* c, pb::WorkerService::Stub* w) {
           pb::PutCheckpointResponse response;
           auto writer = w->PutCheckpoint(c, &response);
           pb::CheckpointChunk chunk;
           *chunk.mutable_attempt() = SomeAttempt();
           chunk.set_step(1);
           chunk.set_total_bytes(4);
           chunk.set_sha256(common::Sha256Hex("ckpt"));
           chunk.set_data("ckpt");
           writer->Write(chunk);
           writer->WritesDone();
           return writer->Finish();
         });
  worker("GetCheckpoint",
         [](grpc::ClientContext* c, pb::WorkerService::Stub* w) {
           pb::GetCheckpointRequest request;
           *request.mutable_attempt() = SomeAttempt();
           request.set_checkpoint_id(1);
           auto reader = w->GetCheckpoint(c, request);
           pb::CheckpointChunk chunk;
           while (reader->Read(&chunk)) {
           }
           return reader->Finish();
         });
  worker("FinishJob", [](grpc::ClientContext* c, pb::WorkerService::Stub* w) {
    pb::FinishJobRequest request;
    *request.mutable_attempt() = SomeAttempt();
    request.set_outcome(pb::ATTEMPT_OUTCOME_SUCCEEDED);
    pb::FinishJobResponse response;
    return w->FinishJob(c, request, &response);
  });
  return rpcs;
}

// The list above names every method of both services: a new RPC must join
// it, or the role checks below would not cover it.
TEST(RolesCoverageTest, EveryRpcOfBothServicesIsListed) {
  std::set<std::string> listed;
  for (const Rpc& rpc : EveryRpc()) {
    listed.insert(std::string(rpc.service == Service::kSweep
                                  ? pb::SweepService::service_full_name()
                                  : pb::WorkerService::service_full_name()) +
                  "." + rpc.name);
  }
  std::set<std::string> declared;
  for (const char* name : {pb::SweepService::service_full_name(),
                           pb::WorkerService::service_full_name()}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int m = 0; m < service->method_count(); ++m) {
      declared.insert(service->method(m)->full_name());
    }
  }
  EXPECT_EQ(listed, declared);
}

class RolesTest : public GrpcTest {
 protected:
  // Runs `rpc` on a channel that adds no token of its own; `decorate` sets
  // the call's metadata.
  grpc::Status Call(const Rpc& rpc, const Decorate& decorate) {
    if (plain_ == nullptr) {
      plain_ = grpc::CreateChannel(server_->address(),
                                   grpc::InsecureChannelCredentials());
      sweep_stub_ = pb::SweepService::NewStub(plain_);
      worker_stub_ = pb::WorkerService::NewStub(plain_);
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    decorate(&context);
    return rpc.call(&context, sweep_stub_.get(), worker_stub_.get());
  }

  static Decorate Header(std::string value) {
    return [value](grpc::ClientContext* c) {
      c->AddMetadata("authorization", value);
    };
  }

  std::shared_ptr<grpc::Channel> plain_;
  std::unique_ptr<pb::SweepService::Stub> sweep_stub_;
  std::unique_ptr<pb::WorkerService::Stub> worker_stub_;
};

TEST_F(RolesTest, EveryRpcRefusesMissingEmptyMalformedAndWrongTokens) {
  const std::string client = kClientToken;
  const std::string worker = kWorkerToken;
  const std::vector<std::pair<std::string, Decorate>> refused = {
      {"no authorization header", [](grpc::ClientContext*) {}},
      {"an empty header", Header("")},
      {"'Bearer ' and no token", Header("Bearer ")},
      {"'Bearer' alone", Header("Bearer")},
      {"an unknown token", Header("Bearer not-a-token")},
      {"the client token without its last byte",
       Header("Bearer " + client.substr(0, client.size() - 1))},
      {"the client token and one more byte", Header("Bearer " + client + "0")},
      {"the worker token with its first byte changed",
       Header("Bearer x" + worker.substr(1))},
      {"the token without a scheme", Header(client)},
      {"scheme 'bearer' in lower case", Header("bearer " + client)},
      {"scheme Basic", Header("Basic " + client)},
      {"two spaces after Bearer", Header("Bearer  " + client)},
      {"both tokens joined", Header("Bearer " + client + worker)},
      {"two authorization headers",
       [&](grpc::ClientContext* c) {
         c->AddMetadata("authorization", "Bearer " + client);
         c->AddMetadata("authorization", "Bearer " + worker);
       }},
  };
  for (const Rpc& rpc : EveryRpc()) {
    for (const auto& [what, decorate] : refused) {
      grpc::Status status = Call(rpc, decorate);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << rpc.name << " with " << what << ": " << status.error_message();
    }
  }
}

TEST_F(RolesTest, EachRoleIsConfinedToItsOwnService) {
  int64_t sweep_id = Submit({1});
  ASSERT_EQ(sweep_id, 1);
  const std::vector<Rpc> rpcs = EveryRpc();
  ASSERT_EQ(rpcs.size(), 22u);  // 15 of SweepService, 7 of WorkerService
  for (const Rpc& rpc : rpcs) {
    const bool for_clients = rpc.service == Service::kSweep;
    // The other role's token: PERMISSION_DENIED, with a message that says
    // which token to use.
    grpc::Status denied =
        Call(rpc, Header(std::string("Bearer ") +
                         (for_clients ? kWorkerToken : kClientToken)));
    EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << rpc.name << ": " << denied.error_message();
    EXPECT_NE(denied.error_message().find(for_clients ? "use the client token"
                                                      : "use the worker token"),
              std::string::npos)
        << denied.error_message();
  }
  // Nothing the refused calls asked for happened: no second sweep, no worker,
  // the job still pending and not cancelled, no metric, no checkpoint file.
  {
    grpc::ClientContext context;
    pb::ListSweepsResponse sweeps;
    ASSERT_TRUE(
        client_->ListSweeps(&context, pb::ListSweepsRequest(), &sweeps).ok());
    ASSERT_EQ(sweeps.sweeps_size(), 1);
    EXPECT_EQ(sweeps.sweeps(0).counts().pending(), 1);
    EXPECT_EQ(sweeps.sweeps(0).counts().cancelled(), 0);
  }
  {
    grpc::ClientContext context;
    pb::ListWorkersResponse workers;
    ASSERT_TRUE(
        client_->ListWorkers(&context, pb::ListWorkersRequest(), &workers)
            .ok());
    EXPECT_EQ(workers.workers_size(), 0);
  }
  EXPECT_EQ(MetricRows(sweep_id), 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "checkpoints") &&
               !std::filesystem::is_empty(dir_ / "checkpoints"));

  // The right token passes the role check of every RPC (what follows, NOT_FOUND
  // for an unknown attempt say, is not a matter of roles).
  for (const Rpc& rpc : rpcs) {
    const bool for_clients = rpc.service == Service::kSweep;
    grpc::Status status =
        Call(rpc, Header(std::string("Bearer ") +
                         (for_clients ? kClientToken : kWorkerToken)));
    EXPECT_NE(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << rpc.name << ": " << status.error_message();
    EXPECT_NE(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << rpc.name << ": " << status.error_message();
  }
}

class FencingTest : public GrpcTest {
 protected:
  static pb::MetricBatch Batch(const pb::AttemptRef& ref, double value) {
    pb::MetricBatch batch;
    *batch.mutable_attempt() = ref;
    batch.set_seq(1);
    pb::MetricPoint* point = batch.add_points();
    point->set_name("loss");
    point->set_step(10);
    point->set_value(value);
    return batch;
  }

  grpc::Status PutCheckpoint(const pb::AttemptRef& ref,
                             const std::string& bytes,
                             int64_t* checkpoint_id = nullptr) {
    grpc::ClientContext context;
    pb::PutCheckpointResponse response;
    auto writer = worker_->PutCheckpoint(&context, &response);
    pb::CheckpointChunk chunk;
    *chunk.mutable_attempt() = ref;
    chunk.set_step(10);
    chunk.set_total_bytes(static_cast<int64_t>(bytes.size()));
    chunk.set_sha256(common::Sha256Hex(bytes));
    chunk.set_data(bytes);
    writer->Write(chunk);
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (checkpoint_id != nullptr) *checkpoint_id = response.checkpoint_id();
    return status;
  }

  grpc::Status GetCheckpoint(const pb::AttemptRef& ref, int64_t checkpoint_id,
                             std::string* bytes) {
    grpc::ClientContext context;
    pb::GetCheckpointRequest request;
    *request.mutable_attempt() = ref;
    request.set_checkpoint_id(checkpoint_id);
    auto reader = worker_->GetCheckpoint(&context, request);
    pb::CheckpointChunk chunk;
    while (reader->Read(&chunk)) bytes->append(chunk.data());
    return reader->Finish();
  }

  grpc::Status Finish(const pb::AttemptRef& ref) {
    grpc::ClientContext context;
    pb::FinishJobRequest request;
    *request.mutable_attempt() = ref;
    request.set_outcome(pb::ATTEMPT_OUTCOME_SUCCEEDED);
    pb::FinishJobResponse response;
    return worker_->FinishJob(&context, request, &response);
  }

  double FinalLoss(int64_t job_id) {
    grpc::ClientContext context;
    pb::GetJobRequest request;
    request.set_job_id(job_id);
    pb::Job job;
    EXPECT_TRUE(client_->GetJob(&context, request, &job).ok());
    auto it = job.final_metrics().find("loss");
    return it == job.final_metrics().end() ? -1 : it->second;
  }
};

TEST_F(FencingTest, AWorkerCannotWriteForAJobItDoesNotHold) {
  int64_t sweep_id = Submit({1, 2});
  int64_t worker_a = Register("a");
  int64_t worker_b = Register("b");
  pb::Assignment held_by_a = Claim(worker_a);
  pb::Assignment held_by_b = Claim(worker_b);
  ASSERT_NE(held_by_a.job_id(), held_by_b.job_id());
  const pb::AttemptRef a = held_by_a.attempt();
  const pb::AttemptRef b = held_by_b.attempt();
  // What B can put together for A's job: A's attempt with B's token, with a
  // guessed token, with an empty-ish token.
  std::vector<pb::AttemptRef> forged;
  for (const std::string& token :
       {b.fencing_token(), std::string(32, '0'),
        a.fencing_token().substr(0, 31) + "x", std::string("x")}) {
    pb::AttemptRef ref;
    ref.set_attempt_id(a.attempt_id());
    ref.set_fencing_token(token);
    forged.push_back(ref);
  }
  int64_t a_checkpoint = 0;
  ASSERT_TRUE(PutCheckpoint(a, "state of A", &a_checkpoint).ok());
  for (const pb::AttemptRef& ref : forged) {
    SCOPED_TRACE(ref.fencing_token());
    auto [acked, metrics] = Report({Batch(ref, 123.0)});
    EXPECT_EQ(metrics.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << metrics.error_message();
    EXPECT_EQ(acked, 0);
    EXPECT_EQ(PutCheckpoint(ref, "poison").error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    std::string bytes;
    EXPECT_EQ(GetCheckpoint(ref, a_checkpoint, &bytes).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_TRUE(bytes.empty());
    EXPECT_EQ(Finish(ref).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  // B's own, valid attempt cannot read A's checkpoint either.
  {
    std::string bytes;
    grpc::Status status = GetCheckpoint(b, a_checkpoint, &bytes);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << status.error_message();
    EXPECT_TRUE(bytes.empty());
  }
  // B's heartbeat naming A's attempt, even with A's own token, renews nothing
  // and orders B to abandon it.
  {
    grpc::ClientContext context;
    pb::HeartbeatRequest request;
    request.set_worker_id(worker_b);
    *request.add_attempts() = a;
    *request.add_attempts() = forged[0];
    pb::HeartbeatResponse response;
    ASSERT_TRUE(worker_->Heartbeat(&context, request, &response).ok());
    ASSERT_EQ(response.orders_size(), 2);
    for (const pb::Order& order : response.orders()) {
      EXPECT_EQ(order.kind(), pb::Order::KIND_ABANDON);
      EXPECT_EQ(order.attempt_id(), a.attempt_id());
    }
  }
  // Nothing of B's reached A's job; A's own writes work.
  EXPECT_EQ(MetricRows(sweep_id), 0);
  auto [acked, ok] = Report({Batch(a, 0.25)});
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(acked, 1);
  {
    std::string bytes;
    ASSERT_TRUE(GetCheckpoint(a, a_checkpoint, &bytes).ok());
    EXPECT_EQ(bytes, "state of A");
  }
  ASSERT_TRUE(Finish(a).ok());
  EXPECT_DOUBLE_EQ(FinalLoss(held_by_a.job_id()), 0.25);
  // Once A's attempt has ended, A itself holds the job no more.
  {
    auto [late_acked, late] = Report({Batch(a, 99.0)});
    EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(late_acked, 0);
    EXPECT_EQ(PutCheckpoint(a, "late").error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  EXPECT_DOUBLE_EQ(FinalLoss(held_by_a.job_id()), 0.25);
  EXPECT_EQ(MetricRows(sweep_id), 1);
  // An attempt id that does not exist at all.
  {
    pb::AttemptRef unknown;
    unknown.set_attempt_id(9999);
    unknown.set_fencing_token(a.fencing_token());
    auto [none_acked, none] = Report({Batch(unknown, 1.0)});
    EXPECT_EQ(none.error_code(), grpc::StatusCode::NOT_FOUND)
        << none.error_message();
  }
  EXPECT_EQ(IntegrityCheck(), "ok");
}

}  // namespace
}  // namespace switchyard::server
