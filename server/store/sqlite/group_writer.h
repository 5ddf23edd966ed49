// The single writer: one thread owns the writable Database and runs every
// write of the store. It drains its queue and runs the queued writes inside
// ONE transaction (group commit: one fsync for many callers), each write in
// its own SAVEPOINT so that a write returning an error rolls back alone.
// Callers block until the group has committed and then get their own result.
//
// When the database itself fails (disk full, I/O error, busy past the
// timeout, corruption: Database::TakeFatalError) the whole group is rolled
// back and every write in it gets that error (UNAVAILABLE, or INTERNAL for a
// corrupt file), so nothing acknowledged is lost and nothing half-done stays.
//
// Threads: Run() may be called from any thread, concurrently. The work
// function runs on the writer thread and must use only the Database it is
// given. The destructor finishes the queued writes, then joins the thread.
#ifndef SWITCHYARD_SERVER_STORE_SQLITE_GROUP_WRITER_H_
#define SWITCHYARD_SERVER_STORE_SQLITE_GROUP_WRITER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "server/store/sqlite/database.h"

namespace switchyard::server::sqlite {

// What a write sees: the connection, inside its savepoint.
class WriteContext {
 public:
  explicit WriteContext(Database* db) : db_(db) {}
  Database& db() { return *db_; }
  // Runs `fn` on the writer thread after the group commits, only if this
  // write succeeded (for caches of committed rows).
  void OnCommit(std::function<void()> fn) { on_commit_.push_back(std::move(fn)); }

 private:
  friend class GroupWriter;
  Database* db_;
  std::vector<std::function<void()>> on_commit_;
};

struct GroupWriterOptions {
  // A group closes when it holds this many writes or this much weight (a
  // write's weight is its caller's estimate of rows touched), whichever comes
  // first, so that one huge group cannot hold every caller for long.
  size_t max_group_writes = 1024;
  int64_t max_group_weight = 10000;
  // WAL checkpoints, when the writer is given a checkpoint connection: after
  // a commit that leaves at least this many frames (pages) in the WAL, a
  // background thread checkpoints on its own connection, so that no commit
  // waits for the copy and its fsync. Should the WAL still reach 8 times this
  // (a write load that never pauses), the writer checkpoints inline.
  int64_t checkpoint_frames = 1000;
};

class GroupWriter {
 public:
  using Work = std::function<absl::Status(WriteContext&)>;

  // `checkpoints` (optional) is a second read-write connection to the same
  // file for the background checkpoints; without it SQLite checkpoints
  // inside commits, as it does by default.
  GroupWriter(std::unique_ptr<Database> db, std::unique_ptr<Database> checkpoints = nullptr,
              GroupWriterOptions options = {});
  ~GroupWriter();
  GroupWriter(const GroupWriter&) = delete;
  GroupWriter& operator=(const GroupWriter&) = delete;

  // Queues `work`, waits for its group to commit, and returns its status:
  // the work's own status when the group committed (its changes are kept only
  // if that is OK), the database's error when the group was rolled back, or
  // UNAVAILABLE when the writer is shutting down.
  absl::Status Run(const Work& work, int64_t weight = 1);

  // Writes queued and not yet taken into a group (for tests and metrics).
  size_t QueueDepth() const;
  // Groups committed or rolled back so far.
  int64_t GroupCount() const;
  // Background checkpoints run so far.
  int64_t CheckpointCount() const;

  // How long groups took, from BEGIN to the end of COMMIT (or ROLLBACK), as a
  // cumulative histogram over kLatencyBounds (seconds).
  static constexpr double kLatencyBounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                              0.05,   0.1,   0.25,  0.5,   1,    2.5};
  struct Latency {
    std::vector<int64_t> cumulative;  // one per bound
    int64_t count = 0;
    double seconds_sum = 0;
  };
  Latency GroupLatency() const;

 private:
  struct Op;
  void Loop();
  void CheckpointLoop();
  void AfterCommit();
  void RunGroup(std::vector<Op*>& group);

  const GroupWriterOptions options_;
  std::unique_ptr<Database> db_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Op*> queue_;    // guarded by mutex_
  bool stopping_ = false;    // guarded by mutex_
  int64_t groups_ = 0;       // guarded by mutex_
  std::vector<int64_t> latency_buckets_ =  // guarded by mutex_; not cumulative
      std::vector<int64_t>(std::size(kLatencyBounds) + 1);
  double latency_sum_ = 0;   // guarded by mutex_

  std::unique_ptr<Database> checkpoint_db_;  // used only by checkpoint_thread_
  bool checkpoint_wanted_ = false;           // guarded by mutex_
  int64_t checkpoints_ = 0;                  // guarded by mutex_
  std::condition_variable checkpoint_wake_;

  // Last: they start after everything above exists.
  std::thread thread_;
  std::thread checkpoint_thread_;
};

}  // namespace switchyard::server::sqlite

#endif  // SWITCHYARD_SERVER_STORE_SQLITE_GROUP_WRITER_H_
