// A string field that is not valid UTF-8, sent as raw bytes by a client that
// does not go through protobuf's checks, is INVALID_ARGUMENT naming the
// field (issue 18), on unary calls and streams alike; nothing is stored and
// the server keeps serving. proto/switchyard/v1/request_parsing.h is how.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <future>
#include <set>
#include <string>
#include <string_view>

#include "switchyard/v1/request_parsing.h"
#include "tests/server/service/grpc_fixture.h"

namespace switchyard::server {
namespace {

// The protobuf wire format, by hand, so that the bytes are exactly these.
std::string Varint(uint64_t value) {
  std::string out;
  do {
    uint8_t byte = value & 0x7F;
    value >>= 7;
    out.push_back(static_cast<char>(value != 0 ? byte | 0x80 : byte));
  } while (value != 0);
  return out;
}
std::string Bytes(int field, std::string_view value) {
  return Varint(static_cast<uint64_t>(field) << 3 | 2) + Varint(value.size()) + std::string(value);
}
std::string Int(int field, uint64_t value) {
  return Varint(static_cast<uint64_t>(field) << 3) + Varint(value);
}

class InvalidUtf8Test : public GrpcTest {
 protected:
  // A unary call of `method` with `bytes` as the request, on a channel with
  // `token`.
  grpc::Status RawCall(const std::string& token, const std::string& method,
                       const std::string& bytes) {
    grpc::GenericStub stub(Channel(token));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status status) { done.set_value(std::move(status)); });
    return done.get_future().get();
  }

  int SweepCount() {
    grpc::ClientContext context;
    pb::ListSweepsResponse sweeps;
    EXPECT_TRUE(client_->ListSweeps(&context, pb::ListSweepsRequest(), &sweeps).ok());
    return sweeps.sweeps_size();
  }
};

TEST_F(InvalidUtf8Test, SubmitSweepNamesTheField) {
  // SubmitSweepRequest{spec: {name: "bad \xFF"}}
  grpc::Status status = RawCall(kClientToken, "/switchyard.v1.SweepService/SubmitSweep",
                                Bytes(1, Bytes(1, "bad \xFF")));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(status.error_message(), "spec.name: not valid UTF-8 (byte 0xFF at offset 4)");

  // Deeper, and the second of a repeated field: spec.axes[1].values[0], a
  // truncated two-byte sequence after a good é.
  std::string seed = Bytes(1, "seed") + Bytes(2, Int(1, 7));
  std::string model = Bytes(1, "model") + Bytes(2, Bytes(3, "ml\xC3\xA9\xC3"));
  status = RawCall(kClientToken, "/switchyard.v1.SweepService/SubmitSweep",
                   Bytes(1, Bytes(1, "ok") + Bytes(4, seed) + Bytes(4, model)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(status.error_message(),
            "spec.axes[1].values[0].string_value: not valid UTF-8 (byte 0xC3 at offset 4)");
  EXPECT_EQ(SweepCount(), 0);

  // The same bytes made valid are a good request: the server still serves.
  status = RawCall(kClientToken, "/switchyard.v1.SweepService/SubmitSweep",
                   Bytes(1, Bytes(1, "ok") + Bytes(4, seed)));
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(SweepCount(), 1);
}

TEST_F(InvalidUtf8Test, RegisterWorkerNamesTheDeviceField) {
  // RegisterWorkerRequest{name: "w", devices: [{name: "cpu", slots: 1},
  //                                             {name: "cuda:0", description: "GPU \xFE"}]}
  std::string request = Bytes(1, "w") + Bytes(3, Bytes(1, "cpu") + Int(4, 1)) +
                        Bytes(3, Bytes(1, "cuda:0") + Bytes(5, "GPU \xFE"));
  grpc::Status status =
      RawCall(kWorkerToken, "/switchyard.v1.WorkerService/RegisterWorker", request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(status.error_message(),
            "devices[1].description: not valid UTF-8 (byte 0xFE at offset 4)");
}

// A bad message in the middle of a metric stream ends it with the field's
// name; the batch before it stays stored and acknowledged.
TEST_F(InvalidUtf8Test, ReportMetricsEndsTheStreamNamingTheField) {
  int64_t sweep = Submit({1});
  pb::Assignment assignment = Claim(Register());
  pb::MetricBatch good = OnePoint(assignment.attempt(), 1, "loss", 1, 0.5);
  pb::MetricBatch bad = good;
  bad.set_seq(2);
  bad.add_points()->set_name("acc\xFF");  // protobuf logs this and sends it as it is
  auto [acked, status] = Report({good, bad});
  EXPECT_EQ(acked, 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(status.error_message(), "points[1].name: not valid UTF-8 (byte 0xFF at offset 3)");
  EXPECT_EQ(MetricRows(sweep), 1);
}

// The first chunk of an upload is where the attempt and the hash are; an
// unreadable one is not "an empty stream".
TEST_F(InvalidUtf8Test, PutCheckpointNamesTheField) {
  grpc::ClientContext context;
  pb::PutCheckpointResponse response;
  auto writer = worker_->PutCheckpoint(&context, &response);
  pb::CheckpointChunk chunk;
  chunk.mutable_attempt()->set_attempt_id(1);
  chunk.mutable_attempt()->set_fencing_token("token\x80");
  chunk.set_data("\xFF\xFE bytes may be anything");
  writer->Write(chunk);
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(status.error_message(),
            "attempt.fencing_token: not valid UTF-8 (byte 0x80 at offset 5)");
}

bool HoldsString(const google::protobuf::Descriptor& type, std::set<std::string>* seen) {
  if (!seen->insert(type.full_name()).second) return false;
  for (int i = 0; i < type.field_count(); ++i) {
    const google::protobuf::FieldDescriptor& field = *type.field(i);
    if (field.type() == google::protobuf::FieldDescriptor::TYPE_STRING) return true;
    if (field.message_type() != nullptr && HoldsString(*field.message_type(), seen)) return true;
  }
  return false;
}

// Every request type that can carry a string is parsed by ParseRequest: a
// new RPC whose request holds a string must join the list in
// request_parsing.h.
TEST(RequestParsingTest, EveryRequestWithAStringIsCovered) {
#define SWITCHYARD_NAME(Type) "switchyard.v1." #Type,
  const std::set<std::string> covered = {SWITCHYARD_V1_REQUESTS_WITH_STRINGS(SWITCHYARD_NAME)};
#undef SWITCHYARD_NAME
  for (const char* name : {pb::SweepService::service_full_name(),
                           pb::WorkerService::service_full_name()}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int m = 0; m < service->method_count(); ++m) {
      const google::protobuf::Descriptor& input = *service->method(m)->input_type();
      std::set<std::string> seen;
      if (HoldsString(input, &seen)) {
        EXPECT_TRUE(covered.count(input.full_name()) == 1)
            << service->method(m)->full_name() << ": " << input.full_name()
            << " holds a string field; add it to SWITCHYARD_V1_REQUESTS_WITH_STRINGS";
      }
    }
  }
}

}  // namespace
}  // namespace switchyard::server
