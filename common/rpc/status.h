// The one place where absl::Status and grpc::Status meet. Codes keep their
// meaning on both sides (both use the canonical codes).
#ifndef SWITCHYARD_COMMON_RPC_STATUS_H_
#define SWITCHYARD_COMMON_RPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace switchyard::common {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_RPC_STATUS_H_
