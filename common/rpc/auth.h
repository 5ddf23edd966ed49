// Bearer tokens: how they are made, stored, sent and compared.
//
// A token is 32 random bytes as 64 hex characters, kept in a file of mode
// 0600. Clients send it as `authorization: Bearer <token>` metadata; the
// coordinator compares in constant time.
#ifndef SWITCHYARD_COMMON_RPC_AUTH_H_
#define SWITCHYARD_COMMON_RPC_AUTH_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace switchyard::common {

inline constexpr char kAuthorizationHeader[] = "authorization";
inline constexpr char kBearerPrefix[] = "Bearer ";

// 64 hex characters from the OS's random source.
std::string NewToken();

// Reads a token file: surrounding whitespace is trimmed; an empty file, a
// missing one or a token with characters outside [A-Za-z0-9._~+/=-] is an
// error naming the path (NOT_FOUND or INVALID_ARGUMENT).
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Reads the token file at `path` or, when it does not exist, creates it with
// a new token and mode 0600. Returns the token.
absl::StatusOr<std::string> ReadOrCreateTokenFile(const std::string& path);

// Constant-time equality (common/base/constant_time.h): pass the secret as
// `expected`; the time taken depends on its length alone.
bool TokensEqual(std::string_view given, std::string_view expected);

// The token from SWITCHYARD_TOKEN or, when token_file is not empty, from that
// file (the file wins). NOT_FOUND when neither gives one.
absl::StatusOr<std::string> TokenFromFlagOrEnv(const std::string& token_file);

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_RPC_AUTH_H_
