// Client channels to the coordinator, plaintext or TLS, with the bearer token
// attached to every call.
#ifndef SWITCHYARD_COMMON_RPC_CHANNEL_H_
#define SWITCHYARD_COMMON_RPC_CHANNEL_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

namespace switchyard::common {

struct ChannelOptions {
  std::string target;        // HOST:PORT
  std::string token;         // sent as `authorization: Bearer <token>`
  std::string tls_ca_file;   // non-empty: TLS, trusting this CA (PEM)
  bool tls = false;          // TLS with the system's roots when no CA file is given
  int max_message_bytes = 64 << 20;
};

// A channel whose every call carries the token. An unreadable CA file is an
// error naming the path.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ChannelOptions& options);

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_RPC_CHANNEL_H_
