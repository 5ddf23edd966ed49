// Exit codes of the `switchyard` command and the one function that picks the
// code for an error.
//
// Errors inside the CLI are absl::Status values. Where an error came from is
// carried as a status payload, so that an INVALID_ARGUMENT written by the
// coordinator (exit 2) is told apart from one the CLI found itself (exit 1):
//   - local (no payload): bad usage, an invalid sweep file, an unwritable
//     output file                                         -> kExitUsage (1)
//   - ServerError(): a gRPC status the coordinator sent   -> kExitServer (2),
//     except UNAVAILABLE and DEADLINE_EXCEEDED            -> kExitUnreachable (3)
//   - UnreachableError(): no connection could be made     -> kExitUnreachable (3)
//   - SweepOutcomeError(): `watch` saw the sweep end with
//     jobs that did not succeed                           -> kExitSweepFailed (4)
//
// Thread safety: pure functions.
#ifndef SWITCHYARD_CLIENT_ERRORS_H_
#define SWITCHYARD_CLIENT_ERRORS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace switchyard::client {

enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,        // bad usage or invalid input (flags, sweep files, local files)
  kExitServer = 2,       // the coordinator answered with an error
  kExitUnreachable = 3,  // the coordinator could not be reached
  kExitSweepFailed = 4,  // watch: the sweep ended with failed, lost or cancelled jobs
};

// A status the coordinator sent, with its code and its own message.
absl::Status ServerError(const grpc::Status& status);

// The coordinator at `target` could not be reached (connect timed out or was
// refused).
absl::Status UnreachableError(const std::string& target, const std::string& detail);

// `watch`: the sweep ended with failed, lost or cancelled jobs (jobs its
// early-stopping scheduler stopped are no failure).
absl::Status SweepOutcomeError(const std::string& message);

// The exit code for a status (kExitOk for OK), as described above.
int ExitCodeFor(const absl::Status& status);

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_ERRORS_H_
