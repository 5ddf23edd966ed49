#include "server/store/sqlite/group_writer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace switchyard::server::sqlite {
namespace {

constexpr char kBegin[] = "BEGIN IMMEDIATE";
constexpr char kCommit[] = "COMMIT";
constexpr char kRollback[] = "ROLLBACK";
constexpr char kSavepoint[] = "SAVEPOINT w";
constexpr char kRelease[] = "RELEASE w";
constexpr char kRollbackTo[] = "ROLLBACK TO w";

absl::Status RunCached(Database& db, const char* sql) {
  absl::StatusOr<ScopedStatement> stmt = db.Cached(sql);
  if (!stmt.ok()) return stmt.status();
  return (*stmt)->Run();
}

}  // namespace

struct GroupWriter::Op {
  const Work* work;
  int64_t weight;
  absl::Status result;
  absl::Notification done;
};

GroupWriter::GroupWriter(std::unique_ptr<Database> db, std::unique_ptr<Database> checkpoints,
                         GroupWriterOptions options)
    : options_(options), db_(std::move(db)), checkpoint_db_(std::move(checkpoints)) {
  if (checkpoint_db_ != nullptr) {
    db_->TrackWalInsteadOfAutoCheckpoint();
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
  }
  thread_ = std::thread([this] { Loop(); });
}

GroupWriter::~GroupWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  checkpoint_wake_.notify_one();
  thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

int64_t GroupWriter::CheckpointCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return checkpoints_;
}

void GroupWriter::CheckpointLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      checkpoint_wake_.wait(lock, [this] { return stopping_ || checkpoint_wanted_; });
      if (stopping_) return;
      checkpoint_wanted_ = false;
    }
    // A failure here (I/O) shows up on the next write as well; the next
    // request, or the writer's inline checkpoint, tries again.
    (void)checkpoint_db_->CheckpointPassive();
    (void)checkpoint_db_->TakeFatalError();
    std::lock_guard<std::mutex> lock(mutex_);
    ++checkpoints_;
  }
}

void GroupWriter::AfterCommit() {
  if (checkpoint_db_ == nullptr) return;
  const int64_t frames = db_->WalFrames();
  if (frames >= 8 * options_.checkpoint_frames) {
    (void)db_->CheckpointPassive();
    (void)db_->TakeFatalError();
    return;
  }
  if (frames < options_.checkpoint_frames) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    checkpoint_wanted_ = true;
  }
  checkpoint_wake_.notify_one();
}

absl::Status GroupWriter::Run(const Work& work, int64_t weight) {
  Op op{&work, weight, absl::OkStatus(), {}};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return absl::UnavailableError("the store is closing");
    queue_.push_back(&op);
  }
  wake_.notify_one();
  op.done.WaitForNotification();
  return op.result;
}

size_t GroupWriter::QueueDepth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

int64_t GroupWriter::GroupCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return groups_;
}

GroupWriter::Latency GroupWriter::GroupLatency() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Latency latency;
  int64_t running = 0;
  for (size_t i = 0; i < std::size(kLatencyBounds); ++i) {
    running += latency_buckets_[i];
    latency.cumulative.push_back(running);
  }
  latency.count = groups_;
  latency.seconds_sum = latency_sum_;
  return latency;
}

void GroupWriter::Loop() {
  std::vector<Op*> group;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Stopping still drains the queue: every accepted write gets an answer.
      if (queue_.empty()) return;
      int64_t weight = 0;
      while (!queue_.empty() && group.size() < options_.max_group_writes &&
             (group.empty() || weight + queue_.front()->weight <= options_.max_group_weight)) {
        weight += queue_.front()->weight;
        group.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    const absl::Time start = absl::Now();
    RunGroup(group);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++groups_;
      latency_sum_ += seconds;
      size_t bucket = 0;
      while (bucket < std::size(kLatencyBounds) && seconds > kLatencyBounds[bucket]) ++bucket;
      ++latency_buckets_[bucket];
    }
    for (Op* op : group) op->done.Notify();  // `op` may be gone after this
    group.clear();
    // After the answers: a checkpoint is no caller's wait.
    AfterCommit();
  }
}

void GroupWriter::RunGroup(std::vector<Op*>& group) {
  Database& db = *db_;
  std::vector<std::function<void()>> on_commit;
  absl::Status fatal = RunCached(db, kBegin);
  for (size_t i = 0; fatal.ok() && i < group.size(); ++i) {
    Op& op = *group[i];
    fatal = RunCached(db, kSavepoint);
    if (!fatal.ok()) break;
    WriteContext context(&db);
    op.result = (*op.work)(context);
    // The database's own failure wins over whatever the work made of it:
    // SQLite may already have rolled the transaction back.
    fatal = db.TakeFatalError();
    if (!fatal.ok()) break;
    if (op.result.ok()) {
      fatal = RunCached(db, kRelease);
      for (auto& fn : context.on_commit_) on_commit.push_back(std::move(fn));
    } else {
      fatal = RunCached(db, kRollbackTo);
      if (fatal.ok()) fatal = RunCached(db, kRelease);
    }
  }
  if (fatal.ok()) fatal = RunCached(db, kCommit);
  if (fatal.ok()) {
    for (auto& fn : on_commit) fn();
    return;
  }
  if (db.InTransaction()) (void)RunCached(db, kRollback);
  (void)db.TakeFatalError();
  const absl::Status all(fatal.code(), absl::StrCat("write rolled back, nothing was changed: ",
                                                    fatal.message()));
  for (Op* op : group) op->result = all;
}

}  // namespace switchyard::server::sqlite
