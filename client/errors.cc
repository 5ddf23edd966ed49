#include "client/errors.h"

#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/rpc/status.h"

namespace switchyard::client {
namespace {

// The payload's type URL; its value is one of the origins below.
constexpr char kOriginUrl[] = "type.switchyard.dev/client.origin";
constexpr char kOriginServer[] = "server";
constexpr char kOriginUnreachable[] = "unreachable";
constexpr char kOriginOutcome[] = "outcome";

absl::Status WithOrigin(absl::Status status, const char* origin) {
  status.SetPayload(kOriginUrl, absl::Cord(origin));
  return status;
}

}  // namespace

absl::Status ServerError(const grpc::Status& status) {
  absl::Status converted = common::FromGrpcStatus(status);
  if (converted.ok()) return converted;
  if (converted.message().empty()) {
    converted = absl::Status(converted.code(), absl::StatusCodeToString(converted.code()));
  }
  return WithOrigin(std::move(converted), kOriginServer);
}

absl::Status UnreachableError(const std::string& target, const std::string& detail) {
  std::string message = absl::StrCat("cannot reach the coordinator at ", target);
  if (!detail.empty()) absl::StrAppend(&message, ": ", detail);
  absl::StrAppend(&message, " (is it running? set --coordinator or SWITCHYARD_COORDINATOR)");
  return WithOrigin(absl::UnavailableError(message), kOriginUnreachable);
}

absl::Status SweepOutcomeError(const std::string& message) {
  return WithOrigin(absl::FailedPreconditionError(message), kOriginOutcome);
}

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  auto origin = status.GetPayload(kOriginUrl);  // absl::optional in Debian's Abseil
  if (!origin.has_value()) return kExitUsage;
  if (*origin == kOriginUnreachable) return kExitUnreachable;
  if (*origin == kOriginOutcome) return kExitSweepFailed;
  if (status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded) {
    return kExitUnreachable;
  }
  return kExitServer;
}

}  // namespace switchyard::client
