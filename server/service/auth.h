// Role checks for the two services. Every RPC of SweepService needs the client
// token, every RPC of WorkerService the worker token:
//   no or unknown token            -> UNAUTHENTICATED
//   the other role's token         -> PERMISSION_DENIED
// The health and reflection services need no token (probes and tools).
#ifndef SWITCHYARD_SERVER_SERVICE_AUTH_H_
#define SWITCHYARD_SERVER_SERVICE_AUTH_H_

#include <string>

#include <grpcpp/server_context.h>

namespace switchyard::server {

enum class Role { kClient, kWorker };

// Immutable after construction; thread-safe.
class Authenticator {
 public:
  Authenticator(std::string client_token, std::string worker_token);
  grpc::Status Check(const grpc::ServerContext& context, Role required) const;

 private:
  std::string client_token_;
  std::string worker_token_;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_SERVICE_AUTH_H_
