#include "worker/agent/coordinator_client.h"

namespace switchyard::worker {

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kCancelled:
    // A coordinator killed mid-call can surface as UNKNOWN or INTERNAL
    // (a reset stream); trying again later is harmless.
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

}  // namespace switchyard::worker
