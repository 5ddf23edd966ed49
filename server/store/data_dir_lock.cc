#include "server/store/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace switchyard::server {
namespace {

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// "pid 1234 on host h", from the file's two lines.
std::string Holder(int fd) {
  char buffer[512];
  ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, 0);
  std::string text(buffer, n > 0 ? static_cast<size_t>(n) : 0);
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  if (lines.size() < 2) {
    // The holder locks first and writes second: we may look in between.
    return "a process that has not yet written its pid";
  }
  return absl::StrCat("pid ", absl::StripAsciiWhitespace(lines[0]), " on host ",
                      absl::StripAsciiWhitespace(lines[1]));
}

absl::Status ErrnoError(int error, const std::string& what) {
  return absl::Status(absl::ErrnoToStatusCode(error), absl::StrCat(what, ": ", strerror(error)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DataDirLock>> DataDirLock::Acquire(const std::string& dir) {
  std::string path = absl::StrCat(dir, "/LOCK");
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("cannot open ", path));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int error = errno;
    if (error == EWOULDBLOCK) {
      std::string holder = Holder(fd);
      close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat(dir, " is in use by another coordinator: ", holder, " holds ", path));
    }
    close(fd);
    return ErrnoError(error, absl::StrCat("cannot lock ", path));
  }
  std::string text = absl::StrCat(getpid(), "\n", HostName(), "\n");
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    int error = errno;
    close(fd);
    return ErrnoError(error, absl::StrCat("cannot write ", path));
  }
  return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
}

DataDirLock::~DataDirLock() { close(fd_); }

}  // namespace switchyard::server
