#include "server/service/auth.h"

#include "common/rpc/auth.h"

namespace switchyard::server {

Authenticator::Authenticator(std::string client_token, std::string worker_token)
    : client_token_(std::move(client_token)), worker_token_(std::move(worker_token)) {}

grpc::Status Authenticator::Check(const grpc::ServerContext& context, Role required) const {
  const auto& metadata = context.client_metadata();
  auto range = metadata.equal_range(common::kAuthorizationHeader);
  if (range.first == range.second) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  if (std::next(range.first) != range.second) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "more than one authorization header");
  }
  std::string_view header(range.first->second.data(), range.first->second.size());
  std::string_view prefix(common::kBearerPrefix);
  if (header.substr(0, prefix.size()) != prefix || header.size() == prefix.size()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization must be 'Bearer <token>'");
  }
  std::string_view token = header.substr(prefix.size());
  // Both comparisons always run, so the timing tells nothing about which
  // token came close.
  bool is_client = common::TokensEqual(token, client_token_);
  bool is_worker = common::TokensEqual(token, worker_token_);
  if (!is_client && !is_worker) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token");
  }
  if ((required == Role::kClient && !is_client) || (required == Role::kWorker && !is_worker)) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        required == Role::kClient
                            ? "a worker token may not call SweepService; use the client token"
                            : "a client token may not call WorkerService; use the worker token");
  }
  return grpc::Status::OK;
}

}  // namespace switchyard::server
