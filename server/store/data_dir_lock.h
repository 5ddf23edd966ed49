// One coordinator per data directory. A second coordinator on the same
// folder would run a second set of lease timers and watch streams over the
// same database, and on a network filesystem SQLite's own locks cannot be
// trusted to keep two writers apart. Like LevelDB's LOCK file and
// PostgreSQL's postmaster.pid, the coordinator takes an exclusive lock on
// DIR/LOCK at start and holds it for its life.
//
// The lock is flock(2) on DIR/LOCK: the kernel drops it when the holder
// exits, however it exits (a crash or kill -9 leaves no stale lock behind),
// and, being per open file, it is also refused to a second DataDirLock in
// the same process. The file stays; it holds the holder's pid and host name,
// one per line, so that whoever is refused can say who holds the folder.
//
// Thread safety: Acquire may be called from any thread; the object has no
// other methods.
#ifndef SWITCHYARD_SERVER_STORE_DATA_DIR_LOCK_H_
#define SWITCHYARD_SERVER_STORE_DATA_DIR_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace switchyard::server {

class DataDirLock {
 public:
  // Locks `dir`/LOCK (created with mode 0600 if missing; `dir` must exist)
  // and writes this process's pid and host name into it.
  //   FAILED_PRECONDITION: another process (or another DataDirLock here)
  //     holds it; the message names the folder and the holder's pid and host
  //     as the file records them.
  //   Other codes (from errno): the file cannot be opened, locked or written.
  static absl::StatusOr<std::unique_ptr<DataDirLock>> Acquire(const std::string& dir);

  // Releases the lock. The file is left in place: removing it could let a
  // process that opened the old file and one that creates a new file both
  // hold "the" lock.
  ~DataDirLock();

  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_STORE_DATA_DIR_LOCK_H_
