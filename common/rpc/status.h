// The one place where absl::Status and grpc::Status meet. Codes keep their
// meaning on both sides (both use the canonical codes).
#ifndef SWITCHYARD_COMMON_RPC_STATUS_H_
#define SWITCHYARD_COMMON_RPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace switchyard::common {

// Messages longer than kMaxStatusMessageBytes are cut there (at a UTF-8
// character boundary) and end in "... (N bytes cut)": a message travels in a
// trailer, and one that echoes a hostile megabyte string would exceed the
// peer's metadata limit and turn the real code into INTERNAL.
inline constexpr size_t kMaxStatusMessageBytes = 1024;
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_RPC_STATUS_H_
