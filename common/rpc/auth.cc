#include "common/rpc/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/base/constant_time.h"
#include "common/base/random_hex.h"

namespace switchyard::common {

std::string NewToken() { return RandomHex(32); }

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("token file ", path, ": cannot read it"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(buffer.str()));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("token file ", path, ": is empty"));
  if (token.size() > 4096) {
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, ": longer than 4096 bytes"));
  }
  for (char c : token) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && std::strchr("._~+/=-", c) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("token file ", path, ": holds a character that cannot be sent in a header"));
    }
  }
  return token;
}

absl::StatusOr<std::string> ReadOrCreateTokenFile(const std::string& path) {
  std::string token = NewToken();
  // O_EXCL: two coordinators starting at once cannot both write the file.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ReadTokenFile(path);
    return absl::UnavailableError(absl::StrCat("token file ", path, ": ", std::strerror(errno)));
  }
  std::string line = token + "\n";
  bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok) {
    unlink(path.c_str());
    return absl::UnavailableError(absl::StrCat("token file ", path, ": cannot write it"));
  }
  return token;
}

bool TokensEqual(std::string_view given, std::string_view expected) {
  return ConstantTimeEquals(given, expected);
}

absl::StatusOr<std::string> TokenFromFlagOrEnv(const std::string& token_file) {
  if (!token_file.empty()) return ReadTokenFile(token_file);
  const char* env = std::getenv("SWITCHYARD_TOKEN");
  if (env != nullptr && *env != '\0') return std::string(absl::StripAsciiWhitespace(env));
  return absl::NotFoundError("no token: pass --token-file or set SWITCHYARD_TOKEN");
}

}  // namespace switchyard::common
