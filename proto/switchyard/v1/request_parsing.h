// How gRPC reads switchyard.v1 requests. protobuf refuses a proto3 string
// field that is not valid UTF-8, and gRPC then answers INTERNAL with no word
// of which field: the one code that means "a bug here", for bad input from
// the caller. Here the parse is gRPC's own, but when it fails because of
// such a field the answer is INVALID_ARGUMENT naming the field by its path:
//   spec.axes[0].values[1].string_value: not valid UTF-8 (byte 0xFF at offset 3)
//
// It takes effect through gRPC's SerializationTraits, specialized below for
// every request message that holds a string field; proto/CMakeLists.txt
// has grpc_cpp_plugin include this header in switchyard.grpc.pb.h, right
// after switchyard.pb.h, so that every user of the services and stubs sees
// the specializations (as C++ requires), and proto/typed_request_handlers.cmake
// has unary handlers parse a request as its own type rather than as a
// MessageLite (streaming handlers already do). Serialization is unchanged.
//
// A server stream's Read() turns a failed parse into `false`, the same as
// the client closing its side; ReadRequest below tells the two apart.
//
// Thread safety: the functions may be called from any thread; the last
// parse error is kept per thread (a sync server's Read parses on the
// handler's own thread).
#ifndef SWITCHYARD_PROTO_SWITCHYARD_V1_REQUEST_PARSING_H_
#define SWITCHYARD_PROTO_SWITCHYARD_V1_REQUEST_PARSING_H_

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <optional>
#include <string>
#include <string_view>

#include "switchyard/v1/switchyard.pb.h"

namespace switchyard::v1 {

// Parses `buffer` into `message` as gRPC's protobuf codec does and returns
// its status, except that a string field holding invalid UTF-8 is
// INVALID_ARGUMENT naming the field. A failure is also kept for
// TakeParseError on this thread; a success clears it.
grpc::Status ParseRequest(grpc::ByteBuffer* buffer, google::protobuf::Message* message);

// The status of this thread's last failed ParseRequest (OK when the last one
// succeeded or none failed), and clears it.
grpc::Status TakeParseError();

// The first string field in `bytes`, read as a serialized `type`, whose
// value is not valid UTF-8: "path: not valid UTF-8 (byte 0xNN at offset N)",
// or nullopt. Nested and repeated fields are named as in
// "points[2].name". Exposed for tests.
std::optional<std::string> FindInvalidUtf8Field(std::string_view bytes,
                                                const google::protobuf::Descriptor& type);

// Reads the next message of a server stream. True with a message; false at
// the end of the stream, with *error OK when the client closed its side and
// the parse error when a message could not be read.
template <class Stream, class Message>
bool ReadRequest(Stream* stream, Message* message, grpc::Status* error) {
  TakeParseError();  // a stale one from an earlier call on this thread
  if (stream->Read(message)) return true;
  *error = TakeParseError();
  return false;
}

// Every request message that holds a string field, at any depth.
// tests/server/service/invalid_utf8_test.cc checks that no request type of
// either service is missing. A message that is not listed keeps gRPC's
// INTERNAL.
#define SWITCHYARD_V1_REQUESTS_WITH_STRINGS(X) \
  X(SubmitSweepRequest)                        \
  X(QueryMetricsRequest)                       \
  X(QuerySeriesRequest)                        \
  X(AggregateRequest)                          \
  X(TailMetricsRequest)                        \
  X(RegisterWorkerRequest)                     \
  X(HeartbeatRequest)                          \
  X(ClaimJobRequest)                           \
  X(MetricBatch)                               \
  X(CheckpointChunk)                           \
  X(GetCheckpointRequest)                      \
  X(FinishJobRequest)

}  // namespace switchyard::v1

#define SWITCHYARD_V1_REQUEST_TRAITS(Type)                                                  \
  template <>                                                                               \
  class SerializationTraits<::switchyard::v1::Type, void> {                                 \
   public:                                                                                  \
    static constexpr bool kNamesInvalidUtf8 = true;                                         \
    static Status Serialize(const protobuf::MessageLite& msg, ByteBuffer* bb,               \
                            bool* own_buffer) {                                             \
      return GenericSerialize<ProtoBufferWriter, ::switchyard::v1::Type>(msg, bb,           \
                                                                        own_buffer);        \
    }                                                                                       \
    static Status Deserialize(ByteBuffer* buffer, protobuf::MessageLite* msg) {             \
      return ::switchyard::v1::ParseRequest(buffer, static_cast<::switchyard::v1::Type*>(msg)); \
    }                                                                                       \
  };

namespace grpc {
SWITCHYARD_V1_REQUESTS_WITH_STRINGS(SWITCHYARD_V1_REQUEST_TRAITS)
}  // namespace grpc

#undef SWITCHYARD_V1_REQUEST_TRAITS

#endif  // SWITCHYARD_PROTO_SWITCHYARD_V1_REQUEST_PARSING_H_
