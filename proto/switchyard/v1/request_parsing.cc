#include "switchyard/v1/request_parsing.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/utf8.h"

namespace switchyard::v1 {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using WireFormat = google::protobuf::internal::WireFormatLite;

thread_local grpc::Status last_parse_error;

// protobuf's own default recursion limit.
constexpr int kMaxDepth = 100;

std::optional<std::string> Find(std::string_view bytes, const Descriptor& type,
                                const std::string& prefix, int depth) {
  if (depth > kMaxDepth) return std::nullopt;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  std::map<int, int> seen;  // field number -> occurrences so far, for [i]
  for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    const FieldDescriptor* field = type.FindFieldByNumber(WireFormat::GetTagFieldNumber(tag));
    if (field == nullptr ||
        WireFormat::GetTagWireType(tag) != WireFormat::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormat::SkipField(&in, tag)) return std::nullopt;
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) return std::nullopt;
    const int start = in.CurrentPosition();
    if (!in.Skip(static_cast<int>(length))) return std::nullopt;
    std::string_view value = bytes.substr(start, length);
    std::string path = prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
    if (field->is_repeated()) absl::StrAppend(&path, "[", seen[field->number()]++, "]");
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (std::optional<size_t> bad = common::FirstInvalidUtf8(value); bad.has_value()) {
        return absl::StrFormat("%s: not valid UTF-8 (byte 0x%02X at offset %d)", path,
                               static_cast<unsigned char>(value[*bad]), *bad);
      }
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (std::optional<std::string> found = Find(value, *field->message_type(), path, depth + 1)) {
        return found;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> FindInvalidUtf8Field(std::string_view bytes, const Descriptor& type) {
  return Find(bytes, type, "", 0);
}

grpc::Status ParseRequest(grpc::ByteBuffer* buffer, google::protobuf::Message* message) {
  // A copy shares the slices (no bytes are copied), and GenericDeserialize
  // consumes the original.
  grpc::ByteBuffer copy;
  if (buffer != nullptr) copy = *buffer;
  grpc::Status status =
      grpc::GenericDeserialize<grpc::ProtoBufferReader, google::protobuf::Message>(buffer, message);
  if (!status.ok()) {
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (copy.Valid() && copy.Dump(&slices).ok()) {
      for (const grpc::Slice& slice : slices) {
        bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
    }
    if (std::optional<std::string> field = FindInvalidUtf8Field(bytes, *message->GetDescriptor())) {
      status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, *field);
    }
  }
  last_parse_error = status;
  return status;
}

grpc::Status TakeParseError() {
  grpc::Status error = last_parse_error;
  last_parse_error = grpc::Status::OK;
  return error;
}

}  // namespace switchyard::v1
