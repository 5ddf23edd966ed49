// The coordinator's gRPC server: SweepService, WorkerService, the standard
// health service and server reflection on one port, plaintext or TLS.
#ifndef SWITCHYARD_SERVER_SERVICE_SERVER_H_
#define SWITCHYARD_SERVER_SERVICE_SERVER_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "server/core/coordinator.h"
#include "server/service/auth.h"
#include "server/service/services.h"

namespace switchyard::server {

struct ServerOptions {
  std::string listen = "127.0.0.1:50051";  // port 0 picks a free port
  std::string client_token;
  std::string worker_token;
  std::string tls_cert_file;   // both set: TLS
  std::string tls_key_file;
  int max_message_bytes = 64 << 20;
};

// Owns the gRPC server; the Coordinator must outlive it. Thread-safe.
class CoordinatorServer {
 public:
  // Binds and starts serving. UNAVAILABLE when the address cannot be bound;
  // NOT_FOUND when a TLS file cannot be read.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(Coordinator* coordinator,
                                                                  const ServerOptions& options);
  ~CoordinatorServer();

  int port() const { return port_; }
  std::string address() const { return address_; }  // HOST:PORT with the real port
  // Stops accepting, lets running calls finish until the deadline, then
  // cancels them. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  void Wait();

 private:
  CoordinatorServer() = default;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<SweepServiceImpl> sweep_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  bool shut_down_ = false;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_SERVICE_SERVER_H_
