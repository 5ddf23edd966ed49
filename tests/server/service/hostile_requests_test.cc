// Hostile requests (issue 8): oversized messages, huge strings, NaN and
// infinities, steps out of range, unknown enum values, empty and enormous
// grids, unicode and odd bytes in names. Each gets its status code, nothing
// half-done is stored, the server keeps serving and the database passes
// PRAGMA integrity_check. docs/security.md lists the answers.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "common/base/sha256.h"
#include "tests/server/service/grpc_fixture.h"

namespace switchyard::server {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

class HostileRequestsTest : public GrpcTest {
 protected:
  void TearDown() override {
    // Whatever a test sent, the server still takes a good sweep and the
    // database is sound.
    if (!HasFatalFailure()) {
      EXPECT_GT(Submit({4242}), 0);
      EXPECT_EQ(IntegrityCheck(), "ok");
    }
    GrpcTest::TearDown();
  }

  grpc::Status SubmitSpec(const pb::SweepSpec& spec,
                          pb::SubmitSweepResponse* response = nullptr,
                          bool dry_run = false) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(60));
    pb::SubmitSweepRequest request;
    *request.mutable_spec() = spec;
    request.set_dry_run(dry_run);
    pb::SubmitSweepResponse ignored;
    return client_->SubmitSweep(&context, request,
                                response ? response : &ignored);
  }

  grpc::Status Retry(int64_t sweep_id, int state) {
    grpc::ClientContext context;
    pb::RetrySweepRequest request;
    request.set_sweep_id(sweep_id);
    request.add_states(static_cast<pb::JobState>(state));
    pb::RetrySweepResponse response;
    return client_->RetrySweep(&context, request, &response);
  }

  grpc::Status FinishWith(const pb::AttemptRef& ref, int outcome,
                          const std::string& cause = "",
                          const std::string& summary = "") {
    grpc::ClientContext context;
    pb::FinishJobRequest request;
    *request.mutable_attempt() = ref;
    request.set_outcome(static_cast<pb::AttemptOutcome>(outcome));
    request.set_cause(cause);
    request.set_summary_json(summary);
    pb::FinishJobResponse response;
    return worker_->FinishJob(&context, request, &response);
  }

  int SweepCount() {
    grpc::ClientContext context;
    pb::ListSweepsResponse sweeps;
    EXPECT_TRUE(
        client_->ListSweeps(&context, pb::ListSweepsRequest(), &sweeps).ok());
    return sweeps.sweeps_size();
  }

  static pb::SweepSpec OneAxis(const std::string& key,
                               const std::vector<std::string>& values) {
    pb::SweepSpec spec;
    spec.set_name("hostile");
    pb::Axis* axis = spec.add_axes();
    axis->set_key(key);
    for (const std::string& v : values) axis->add_values()->set_string_value(v);
    return spec;
  }

  // A stub whose channel may send up to 256 MiB, so that the server's own
  // limit (64 MiB) is what refuses.
  std::unique_ptr<pb::SweepService::Stub> BigClient() {
    common::ChannelOptions options;
    options.target = server_->address();
    options.token = kClientToken;
    options.max_message_bytes = 256 << 20;
    return pb::SweepService::NewStub(*common::MakeChannel(options));
  }
};

// Status messages are bounded: a refusal never echoes megabytes back.
void ExpectBoundedMessage(const grpc::Status& status) {
  EXPECT_LE(status.error_message().size(), 4096u)
      << status.error_message().substr(0, 200);
}

TEST_F(HostileRequestsTest, OversizedMessagesAreResourceExhausted) {
  auto big = BigClient();
  {
    grpc::ClientContext context;
    pb::SubmitSweepRequest request;
    *request.mutable_spec() = OneAxis("model", {std::string(65 << 20, 'm')});
    pb::SubmitSweepResponse response;
    grpc::Status status = big->SubmitSweep(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << status.error_message();
  }
  // A metric batch over the limit ends the stream the same way.
  Submit({1});
  pb::Assignment assignment = Claim(Register());
  {
    common::ChannelOptions options;
    options.target = server_->address();
    options.token = kWorkerToken;
    options.max_message_bytes = 256 << 20;
    auto worker = pb::WorkerService::NewStub(*common::MakeChannel(options));
    grpc::ClientContext context;
    auto stream = worker->ReportMetrics(&context);
    pb::MetricBatch batch = OnePoint(assignment.attempt(), 1, "loss", 1, 0.5);
    batch.mutable_points(0)->set_name(std::string(65 << 20, 'n'));
    stream->Write(batch);
    stream->WritesDone();
    pb::MetricAck ack;
    EXPECT_FALSE(stream->Read(&ack));
    EXPECT_EQ(stream->Finish().error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  EXPECT_EQ(SweepCount(), 1);
}

TEST_F(HostileRequestsTest, HugeNamesAndStringsAreInvalidArgument) {
  const std::string huge(8 << 20,
                         'h');  // under the message limit, over every field's
  auto expect_invalid = [](const grpc::Status& status, const char* what) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << what << ": " << status.error_message().substr(0, 200);
    ExpectBoundedMessage(status);
  };
  {
    pb::SweepSpec spec = OneAxis("model", {"mlp"});
    spec.set_name(huge);
    expect_invalid(SubmitSpec(spec), "sweep name");
  }
  expect_invalid(SubmitSpec(OneAxis(huge, {"mlp"})), "axis key");
  expect_invalid(SubmitSpec(OneAxis("model", {huge})), "string value");
  expect_invalid(SubmitSpec(OneAxis("tasks", {huge})), "task set");
  {
    // 200,000 axes of the same key.
    pb::SweepSpec spec;
    for (int i = 0; i < 200'000; ++i) {
      pb::Axis* axis = spec.add_axes();
      axis->set_key("seed");
      axis->add_values()->set_int_value(i);
    }
    expect_invalid(SubmitSpec(spec), "200,000 axes");
  }
  {
    grpc::ClientContext context;
    pb::RegisterWorkerRequest request;
    request.set_name(huge);
    pb::Device* device = request.add_devices();
    device->set_name("cpu");
    device->set_slots(1);
    pb::RegisterWorkerResponse response;
    expect_invalid(worker_->RegisterWorker(&context, request, &response),
                   "worker name");
  }
  {
    grpc::ClientContext context;
    pb::RegisterWorkerRequest request;
    request.set_name("w");
    for (int i = 0; i < 100'000; ++i) {
      pb::Device* device = request.add_devices();
      device->set_name("cuda:" + std::to_string(i));
      device->set_slots(1);
    }
    pb::RegisterWorkerResponse response;
    expect_invalid(worker_->RegisterWorker(&context, request, &response),
                   "100,000 devices");
  }
  Submit({1});
  int64_t worker_id = Register();
  {
    grpc::ClientContext context;
    pb::ClaimJobRequest request;
    request.set_worker_id(worker_id);
    request.set_device(huge);
    pb::ClaimJobResponse response;
    expect_invalid(worker_->ClaimJob(&context, request, &response), "device");
  }
  pb::Assignment assignment = Claim(worker_id);
  {
    auto [acked, status] =
        Report({OnePoint(assignment.attempt(), 1, huge, 1, 0.5)});
    expect_invalid(status, "metric name");
    EXPECT_EQ(acked, 0);
  }
  {
    pb::AttemptRef forged = assignment.attempt();
    forged.set_fencing_token(huge);
    auto [acked, status] = Report({OnePoint(forged, 1, "loss", 1, 0.5)});
    expect_invalid(status, "fencing token");
  }
  {
    grpc::ClientContext context;
    pb::HeartbeatRequest request;
    request.set_worker_id(worker_id);
    for (int i = 0; i < 10'000; ++i)
      *request.add_attempts() = assignment.attempt();
    pb::HeartbeatResponse response;
    expect_invalid(worker_->Heartbeat(&context, request, &response),
                   "10,000 attempts");
  }
  {
    grpc::ClientContext context;
    pb::PutCheckpointResponse response;
    auto writer = worker_->PutCheckpoint(&context, &response);
    pb::CheckpointChunk chunk;
    *chunk.mutable_attempt() = assignment.attempt();
    chunk.set_step(1);
    chunk.set_total_bytes(4);
    chunk.set_sha256(huge);
    chunk.set_data("abcd");
    writer->Write(chunk);
    writer->WritesDone();
    expect_invalid(writer->Finish(), "checkpoint sha256");
  }
  expect_invalid(
      FinishWith(assignment.attempt(), pb::ATTEMPT_OUTCOME_FAILED, huge),
      "cause");
  expect_invalid(
      FinishWith(assignment.attempt(), pb::ATTEMPT_OUTCOME_SUCCEEDED, "", huge),
      "summary");
  {
    // A query naming a million metrics (none of them stored) is answered,
    // empty.
    grpc::ClientContext context;
    pb::QueryMetricsRequest request;
    request.set_sweep_id(assignment.sweep_id());
    for (int i = 0; i < 1'000'000; ++i)
      request.add_names("m" + std::to_string(i));
    auto reader = client_->QueryMetrics(&context, request);
    pb::QueryMetricsResponse chunk;
    int points = 0;
    while (reader->Read(&chunk)) points += chunk.points_size();
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(points, 0);
  }
  // The attempt is still running and usable after all that.
  auto [acked, status] =
      Report({OnePoint(assignment.attempt(), 1, "loss", 1, 0.5)});
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(acked, 1);
  EXPECT_EQ(SweepCount(), 1);
}

TEST_F(HostileRequestsTest,
       NonFiniteNumbersAreInvalidArgumentAndNothingIsStored) {
  int64_t sweep_id = Submit({1});
  pb::Assignment assignment = Claim(Register());
  const pb::AttemptRef ref = assignment.attempt();
  for (double bad : {kNaN, kInf, -kInf}) {
    SCOPED_TRACE(bad);
    auto [acked, status] = Report({OnePoint(ref, 1, "loss", 1, bad)});
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_EQ(acked, 0);
    // wall_time too: SQLite would store a NaN as NULL.
    auto [wall_acked, wall] = Report({OnePoint(ref, 1, "loss", 1, 0.5, bad)});
    EXPECT_EQ(wall.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << wall.error_message();
    EXPECT_EQ(wall_acked, 0);
    // One bad point spoils its whole batch: none of it is stored.
    pb::MetricBatch mixed = OnePoint(ref, 1, "loss", 2, 0.25);
    pb::MetricPoint* point = mixed.add_points();
    point->set_name("accuracy");
    point->set_step(2);
    point->set_value(bad);
    auto [mixed_acked, mixed_status] = Report({mixed});
    EXPECT_EQ(mixed_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    // Hyperparameters in a sweep.
    pb::SweepSpec spec;
    pb::Axis* axis = spec.add_axes();
    axis->set_key("lr");
    axis->add_values()->set_float_value(bad);
    EXPECT_EQ(SubmitSpec(spec).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    pb::SweepSpec as_int;
    pb::Axis* seeds = as_int.add_axes();
    seeds->set_key("seed");
    seeds->add_values()->set_float_value(bad);
    EXPECT_EQ(SubmitSpec(as_int).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(MetricRows(sweep_id), 0);
  // Large finite values and negative zero are real numbers and are kept.
  pb::MetricBatch fine =
      OnePoint(ref, 2, "loss", 1, std::numeric_limits<double>::max());
  pb::MetricPoint* tiny = fine.add_points();
  tiny->set_name("loss");
  tiny->set_step(2);
  tiny->set_value(-0.0);
  tiny->set_wall_time(0);
  auto [acked, status] = Report({fine});
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(MetricRows(sweep_id), 2);
}

TEST_F(HostileRequestsTest, StepsAndSizesOutOfRangeAreInvalidArgument) {
  int64_t sweep_id = Submit({1});
  pb::Assignment assignment = Claim(Register());
  const pb::AttemptRef ref = assignment.attempt();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  for (int64_t step : {int64_t{-1}, kMin, (int64_t{1} << 53) + 1, kMax}) {
    auto [acked, status] = Report({OnePoint(ref, 1, "loss", step, 0.5)});
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << step;
    EXPECT_EQ(acked, 0);
  }
  for (int64_t seq : {int64_t{0}, int64_t{-1}, kMin}) {
    auto [acked, status] = Report({OnePoint(ref, seq, "loss", 1, 0.5)});
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "seq " << seq;
  }
  {
    // The edges are fine: step 0 and 2^53, seq at its maximum.
    pb::MetricBatch edges = OnePoint(ref, kMax, "loss", 0, 1.0);
    pb::MetricPoint* top = edges.add_points();
    top->set_name("loss");
    top->set_step(int64_t{1} << 53);
    top->set_value(0.5);
    auto [acked, status] = Report({edges});
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(acked, kMax);
  }
  EXPECT_EQ(MetricRows(sweep_id), 2);
  // Checkpoints: a negative step, a negative, zero or enormous size, a size
  // that the bytes then overrun.
  struct Bad {
    int64_t step, total_bytes;
    std::string data;
  };
  for (const Bad& bad : std::vector<Bad>{{-1, 4, "abcd"},
                                         {kMin, 4, "abcd"},
                                         {1, -4, "abcd"},
                                         {1, 0, ""},
                                         {1, kMax, "abcd"},
                                         {1, 2, "abcd"}}) {
    grpc::ClientContext context;
    pb::PutCheckpointResponse response;
    auto writer = worker_->PutCheckpoint(&context, &response);
    pb::CheckpointChunk chunk;
    *chunk.mutable_attempt() = ref;
    chunk.set_step(bad.step);
    chunk.set_total_bytes(bad.total_bytes);
    chunk.set_sha256(common::Sha256Hex(bad.data));
    chunk.set_data(bad.data);
    writer->Write(chunk);
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "step " << bad.step << " total_bytes " << bad.total_bytes << ": "
        << status.error_message();
  }
  // A size that the bytes fall short of, or a wrong sha256: DATA_LOSS.
  {
    grpc::ClientContext context;
    pb::PutCheckpointResponse response;
    auto writer = worker_->PutCheckpoint(&context, &response);
    pb::CheckpointChunk chunk;
    *chunk.mutable_attempt() = ref;
    chunk.set_step(1);
    chunk.set_total_bytes(8);
    chunk.set_sha256(common::Sha256Hex("abcd"));
    chunk.set_data("abcd");
    writer->Write(chunk);
    writer->WritesDone();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::DATA_LOSS);
  }
  // Nothing was left behind in the checkpoint folder.
  if (std::filesystem::exists(dir_ / "checkpoints")) {
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(dir_ / "checkpoints")) {
      EXPECT_FALSE(entry.is_regular_file()) << entry.path();
    }
  }
  // Sweep headers and integer parameters out of range.
  {
    pb::SweepSpec spec = OneAxis("model", {"mlp"});
    spec.set_priority(std::numeric_limits<int32_t>::max());
    EXPECT_EQ(SubmitSpec(spec).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    spec.set_priority(0);
    spec.set_max_attempts(-1);
    EXPECT_EQ(SubmitSpec(spec).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (const char* key : {"seed", "epochs", "steps_per_epoch", "batch_size"}) {
    for (int64_t value : {kMin, int64_t{-1}, kMax}) {
      pb::SweepSpec spec;
      pb::Axis* axis = spec.add_axes();
      axis->set_key(key);
      axis->add_values()->set_int_value(value);
      grpc::Status status = SubmitSpec(spec);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << key << "=" << value;
    }
  }
  // Worker registration: slots out of range.
  for (int32_t slots : {0, -1, std::numeric_limits<int32_t>::max()}) {
    grpc::ClientContext context;
    pb::RegisterWorkerRequest request;
    request.set_name("w");
    pb::Device* device = request.add_devices();
    device->set_name("cpu");
    device->set_slots(slots);
    pb::RegisterWorkerResponse response;
    EXPECT_EQ(
        worker_->RegisterWorker(&context, request, &response).error_code(),
        grpc::StatusCode::INVALID_ARGUMENT)
        << "slots " << slots;
  }
  EXPECT_EQ(SweepCount(), 1);
}

TEST_F(HostileRequestsTest, UnknownEnumValuesAreInvalidArgument) {
  int64_t sweep_id = Submit({1});
  pb::Assignment assignment = Claim(Register());
  for (int value : {-1, 10, 77, std::numeric_limits<int32_t>::max()}) {
    {
      grpc::ClientContext context;
      pb::ListJobsRequest request;
      request.set_sweep_id(sweep_id);
      request.set_state(static_cast<pb::JobState>(value));
      pb::ListJobsResponse jobs;
      EXPECT_EQ(client_->ListJobs(&context, request, &jobs).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT)
          << value;
    }
    EXPECT_EQ(Retry(sweep_id, value).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << value;
    EXPECT_EQ(FinishWith(assignment.attempt(), value).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << value;
  }
  // Known values that a worker may not report.
  for (pb::AttemptOutcome outcome :
       {pb::ATTEMPT_OUTCOME_UNSPECIFIED, pb::ATTEMPT_OUTCOME_RUNNING,
        pb::ATTEMPT_OUTCOME_LOST}) {
    EXPECT_EQ(FinishWith(assignment.attempt(), outcome).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << outcome;
  }
  // A retry of states that cannot be retried.
  EXPECT_EQ(Retry(sweep_id, pb::JOB_STATE_SUCCEEDED).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // The job is still running under its attempt.
  grpc::ClientContext context;
  pb::GetJobRequest request;
  request.set_job_id(assignment.job_id());
  pb::Job job;
  ASSERT_TRUE(client_->GetJob(&context, request, &job).ok());
  EXPECT_EQ(job.state(), pb::JOB_STATE_RUNNING);
}

TEST_F(HostileRequestsTest, EmptyAndEnormousGridsAreRefused) {
  // An axis with no values, a value that is unset.
  {
    pb::SweepSpec spec;
    spec.add_axes()->set_key("seed");
    grpc::Status status = SubmitSpec(spec);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "seed: the list of values is empty");
  }
  {
    pb::SweepSpec spec;
    pb::Axis* axis = spec.add_axes();
    axis->set_key("seed");
    axis->add_values();
    EXPECT_EQ(SubmitSpec(spec).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // A million cells: 1000 seeds x 1000 learning rates, and one axis of a
  // million seeds. Refused quickly, in a dry run too, and nothing stored.
  {
    pb::SweepSpec spec;
    pb::Axis* seeds = spec.add_axes();
    seeds->set_key("seed");
    for (int i = 0; i < 1000; ++i) seeds->add_values()->set_int_value(i);
    pb::Axis* lrs = spec.add_axes();
    lrs->set_key("lr");
    for (int i = 1; i <= 1000; ++i)
      lrs->add_values()->set_float_value(i * 1e-6);
    for (bool dry_run : {false, true}) {
      grpc::Status status = SubmitSpec(spec, nullptr, dry_run);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << status.error_message();
      EXPECT_NE(status.error_message().find("more than 100000 cells"),
                std::string::npos)
          << status.error_message();
    }
  }
  {
    pb::SweepSpec spec;
    pb::Axis* seeds = spec.add_axes();
    seeds->set_key("seed");
    for (int i = 0; i < 1'000'000; ++i) seeds->add_values()->set_int_value(i);
    auto start = std::chrono::steady_clock::now();
    grpc::Status status = SubmitSpec(spec);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_LT(seconds, 30.0);
  }
  EXPECT_EQ(SweepCount(), 0);
  // No axes at all is one cell of defaults (docs/security.md): a sweep, not
  // an error.
  pb::SubmitSweepResponse response;
  ASSERT_TRUE(SubmitSpec(pb::SweepSpec(), &response, /*dry_run=*/true).ok());
  EXPECT_EQ(response.job_count(), 1);
}

TEST_F(HostileRequestsTest, UnicodeAndOddBytesInNamesRoundTrip) {
  const std::vector<std::string> names = {
      "Übung — 扫描 🚀",
      "x'); DROP TABLE sweeps; --",
      "tab\tnewline\nquote\"backslash\\",
      "\u202Eright-to-left",
      std::string("nul\0inside", 10),
  };
  for (const std::string& name : names) {
    pb::SweepSpec spec = OneAxis("model", {"mlp"});
    spec.set_name(name);
    pb::SubmitSweepResponse submitted;
    grpc::Status status = SubmitSpec(spec, &submitted);
    ASSERT_TRUE(status.ok()) << status.error_message();
    grpc::ClientContext context;
    pb::GetSweepRequest request;
    request.set_sweep_id(submitted.sweep_id());
    pb::Sweep sweep;
    ASSERT_TRUE(client_->GetSweep(&context, request, &sweep).ok());
    EXPECT_EQ(sweep.name(), name);
  }
  // Unicode in a string parameter is an unknown value, named in the message.
  {
    grpc::Status status = SubmitSpec(OneAxis("model", {"трансформер"}));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("трансформер"), std::string::npos);
  }
  // Worker and metric names.
  int64_t worker_id = 0;
  {
    grpc::ClientContext context;
    pb::RegisterWorkerRequest request;
    request.set_name("wörker-🚀");
    request.set_hostname("høst");
    pb::Device* device = request.add_devices();
    device->set_name("cpu");
    device->set_slots(1);
    pb::RegisterWorkerResponse response;
    ASSERT_TRUE(worker_->RegisterWorker(&context, request, &response).ok());
    worker_id = response.worker_id();
  }
  pb::Assignment assignment = Claim(worker_id);
  auto [acked, status] =
      Report({OnePoint(assignment.attempt(), 1, "损失/ü", 3, 0.5)});
  ASSERT_TRUE(status.ok()) << status.error_message();
  {
    grpc::ClientContext context;
    pb::QueryMetricsRequest request;
    request.set_sweep_id(assignment.sweep_id());
    request.add_names("损失/ü");
    auto reader = client_->QueryMetrics(&context, request);
    pb::QueryMetricsResponse chunk;
    std::vector<std::string> seen;
    while (reader->Read(&chunk)) {
      for (const auto& p : chunk.points()) seen.push_back(p.point().name());
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(seen, std::vector<std::string>{"损失/ü"});
  }
  {
    grpc::ClientContext context;
    pb::ListWorkersResponse workers;
    ASSERT_TRUE(
        client_->ListWorkers(&context, pb::ListWorkersRequest(), &workers)
            .ok());
    ASSERT_EQ(workers.workers_size(), 1);
    EXPECT_EQ(workers.workers(0).name(), "wörker-🚀");
  }
}

// Invalid UTF-8 in a string field: protobuf refuses to parse the request
// before any handler runs, and the answer names the field
// (proto/switchyard/v1/request_parsing.h; invalid_utf8_test.cc sends raw
// bytes to every kind of call). The server is unaffected.
TEST_F(HostileRequestsTest, InvalidUtf8IsRefusedNamingTheField) {
  pb::SweepSpec spec = OneAxis("model", {"mlp"});
  spec.set_name("bad \xff\xfe utf-8");
  grpc::Status status = SubmitSpec(spec);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_code() << " " << status.error_message();
  EXPECT_EQ(status.error_message(), "spec.name: not valid UTF-8 (byte 0xFF at offset 4)");
  EXPECT_EQ(SweepCount(), 0);
}

// The views' requests (issue 15): every field out of range is
// INVALID_ARGUMENT naming it, in a bounded message; unknown ids NOT_FOUND.
TEST_F(HostileRequestsTest, ViewRequestsOutOfRangeAreInvalidArgument) {
  const int64_t sweep = Submit({1});
  const std::string huge(1 << 20, 'h');
  const auto series = [&](const std::function<void(pb::QuerySeriesRequest*)>& edit) {
    grpc::ClientContext context;
    pb::QuerySeriesRequest request;
    request.set_sweep_id(sweep);
    edit(&request);
    pb::QuerySeriesResponse response;
    grpc::Status status = client_->QuerySeries(&context, request, &response);
    ExpectBoundedMessage(status);
    return status;
  };
  const auto aggregate = [&](const std::function<void(pb::AggregateRequest*)>& edit) {
    grpc::ClientContext context;
    pb::AggregateRequest request;
    request.set_sweep_id(sweep);
    request.set_name("loss");
    edit(&request);
    pb::AggregateResponse response;
    grpc::Status status = client_->Aggregate(&context, request, &response);
    ExpectBoundedMessage(status);
    return status;
  };
  const auto tail = [&](const std::function<void(pb::TailMetricsRequest*)>& edit) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    pb::TailMetricsRequest request;
    edit(&request);
    auto reader = client_->TailMetrics(&context, request);
    pb::TailMetricsResponse ignored;
    while (reader->Read(&ignored)) {
    }
    grpc::Status status = reader->Finish();
    ExpectBoundedMessage(status);
    return status;
  };
  struct Case {
    std::string what;
    grpc::Status status;
    std::string field;  // the message starts with it
  };
  std::vector<Case> refused = {
      {"max_points -1", series([](auto* r) { r->set_max_points(-1); }), "max_points: "},
      {"max_points 100001", series([](auto* r) { r->set_max_points(100'001); }),
       "max_points: "},
      {"sweep_id 0", series([](auto* r) { r->set_sweep_id(0); }), "sweep_id: "},
      {"a huge name", series([&](auto* r) { r->add_names(huge); }), "names[0]: "},
      {"an empty name", series([](auto* r) { r->add_names("loss"), r->add_names(""); }),
       "names[1]: "},
      {"2,000 names", series([](auto* r) {
         for (int i = 0; i < 2000; ++i) r->add_names("n" + std::to_string(i));
       }),
       "names: "},
      {"200,000 job ids", series([](auto* r) {
         for (int i = 1; i <= 200'000; ++i) r->add_job_ids(i);
       }),
       "job_ids: "},
      {"a negative job id", series([](auto* r) { r->add_job_ids(-3); }), "job_ids[0]: "},
      {"no name", aggregate([](auto* r) { r->clear_name(); }), "name: "},
      {"a huge name", aggregate([&](auto* r) { r->set_name(huge); }), "name: "},
      {"a huge x", aggregate([&](auto* r) { r->set_x(huge); }), "x: "},
      {"an unknown key", aggregate([](auto* r) { r->add_group_by("modle"); }),
       "group_by[0]: "},
      {"a huge key", aggregate([&](auto* r) { r->add_group_by(huge); }), "group_by[0]: "},
      {"a huge params key", aggregate([&](auto* r) { r->add_group_by("params." + huge); }),
       "group_by[0]: "},
      {"1,000 keys", aggregate([](auto* r) {
         for (int i = 0; i < 1000; ++i) r->add_group_by("model");
       }),
       "group_by: "},
      {"max_points 100001", aggregate([](auto* r) { r->set_max_points(100'001); }),
       "max_points: "},
      {"sweep_id -1", aggregate([](auto* r) { r->set_sweep_id(-1); }), "sweep_id: "},
      {"sweep_id -1", tail([](auto* r) { r->set_sweep_id(-1); }), "sweep_id: "},
      {"an empty name", tail([](auto* r) { r->add_names(""); }), "names: "},
      {"a huge name", tail([&](auto* r) { r->add_names(huge); }), "names: "},
      {"2,000 names", tail([](auto* r) {
         for (int i = 0; i < 2000; ++i) r->add_names("n" + std::to_string(i));
       }),
       "names: "},
  };
  for (const Case& c : refused) {
    EXPECT_EQ(c.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.what << ": " << c.status.error_message().substr(0, 200);
    EXPECT_EQ(c.status.error_message().rfind(c.field, 0), 0u)
        << c.what << ": " << c.status.error_message().substr(0, 200);
  }
  // Unknown ids.
  EXPECT_EQ(series([](auto* r) { r->set_sweep_id(999); }).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(series([](auto* r) { r->add_job_ids(999); }).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(aggregate([](auto* r) { r->set_sweep_id(999); }).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(tail([](auto* r) { r->set_sweep_id(999); }).error_code(),
            grpc::StatusCode::NOT_FOUND);
  for (int64_t job_id : {int64_t{0}, int64_t{-5}, int64_t{999}}) {
    grpc::ClientContext context;
    pb::ListCheckpointsRequest request;
    request.set_job_id(job_id);
    pb::ListCheckpointsResponse response;
    grpc::Status status = client_->ListCheckpoints(&context, request, &response);
    EXPECT_EQ(status.error_code(), job_id == 999 ? grpc::StatusCode::NOT_FOUND
                                                 : grpc::StatusCode::INVALID_ARGUMENT)
        << job_id << ": " << status.error_message();
  }
}

}  // namespace
}  // namespace switchyard::server
