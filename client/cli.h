// `switchyard`: the command line as a function, so that tests run it with
// string streams, an environment of their own and a fake coordinator.
//
//   switchyard [global flags] COMMAND [args] [flags]
//
// Global flags (accepted before or after the command):
//   --coordinator HOST:PORT  default $SWITCHYARD_COORDINATOR, else 127.0.0.1:50051
//   --token-file FILE        the client token; default $SWITCHYARD_TOKEN
//   --tls-ca FILE            TLS, trusting this CA (PEM)
//   --output table|json|csv  for the commands that print tables
//   --timeout SECONDS        per call (default 30)
//
// Thread safety: RunCli may run on any thread; it uses only `io`.
#ifndef SWITCHYARD_CLIENT_CLI_H_
#define SWITCHYARD_CLIENT_CLI_H_

#include <string>
#include <vector>

#include "client/commands/commands.h"

namespace switchyard::client {

// The global flags' specs (for help and parsing).
const std::vector<FlagSpec>& GlobalFlags();

// Runs one command line (`args` without the program name) and returns the
// exit code (client/errors.h). Errors are printed to io.err as
// "switchyard: MESSAGE".
int RunCli(const std::vector<std::string>& args, CliIo& io);

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_CLI_H_
