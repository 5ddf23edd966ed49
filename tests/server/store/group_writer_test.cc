// The group-commit writer: one transaction per group, one savepoint per
// write, a database failure rolls the whole group back.
#include "server/store/sqlite/group_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "tests/server/store/temp_dir.h"

namespace switchyard::server::sqlite {
namespace {

constexpr char kInsert[] = "INSERT INTO t (v) VALUES (?)";

absl::Status Insert(WriteContext& context, int64_t v) {
  absl::StatusOr<ScopedStatement> stmt = context.db().Cached(kInsert);
  if (!stmt.ok()) return stmt.status();
  (*stmt)->BindInt64(1, v);
  return (*stmt)->Run();
}

class GroupWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DatabaseOptions options;
    options.path = dir_.File("w.db");
    options.max_page_count = 16;
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(options);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Execute("CREATE TABLE t (v)").ok());
    writer_ = std::make_unique<GroupWriter>(std::move(*db));
    options.read_only = true;
    absl::StatusOr<std::unique_ptr<Database>> reader = Database::Open(options);
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = std::move(*reader);
  }

  std::vector<int64_t> Rows() {
    std::vector<int64_t> rows;
    absl::StatusOr<ScopedStatement> stmt = reader_->Cached("SELECT v FROM t ORDER BY v");
    EXPECT_TRUE(stmt.ok());
    while ((*stmt)->Step().value_or(false)) rows.push_back((*stmt)->ColumnInt64(0));
    return rows;
  }

  // Holds the writer thread inside a first group until `release` is
  // notified, then waits until `queued` more writes are queued behind it, so
  // that those form the next group together.
  void RunGroupBehindBlocker(std::vector<GroupWriter::Work> works,
                             std::vector<absl::Status>* results) {
    absl::Notification entered, release;
    std::thread blocker([&] {
      absl::Status s = writer_->Run([&](WriteContext& c) {
        entered.Notify();
        release.WaitForNotification();
        return Insert(c, 0);
      });
      EXPECT_TRUE(s.ok()) << s;
    });
    entered.WaitForNotification();
    results->assign(works.size(), absl::OkStatus());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < works.size(); ++i) {
      threads.emplace_back([&, i] { (*results)[i] = writer_->Run(works[i]); });
    }
    while (writer_->QueueDepth() < works.size()) std::this_thread::yield();
    const int64_t groups_before = writer_->GroupCount();
    release.Notify();
    blocker.join();
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(writer_->GroupCount(), groups_before + 2);  // the blocker's, then theirs
  }

  server::testing::TempDir dir_;
  std::unique_ptr<GroupWriter> writer_;
  std::unique_ptr<Database> reader_;
};

TEST_F(GroupWriterTest, AFailingWriteRollsBackAlone) {
  std::atomic<int> committed_callbacks{0};
  std::vector<absl::Status> results;
  RunGroupBehindBlocker(
      {[&](WriteContext& c) {
         c.OnCommit([&] { ++committed_callbacks; });
         return Insert(c, 1);
       },
       [&](WriteContext& c) {
         c.OnCommit([&] { ++committed_callbacks; });
         absl::Status s = Insert(c, 2);
         if (!s.ok()) return s;
         return absl::FailedPreconditionError("changed my mind");
       },
       [&](WriteContext& c) { return Insert(c, 3); }},
      &results);
  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_EQ(results[1].code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(results[1].message(), "changed my mind");
  EXPECT_TRUE(results[2].ok()) << results[2];
  EXPECT_EQ(Rows(), (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(committed_callbacks.load(), 1);
}

TEST_F(GroupWriterTest, ADatabaseFailureRollsBackTheWholeGroup) {
  std::atomic<int> committed_callbacks{0};
  std::vector<absl::Status> results;
  RunGroupBehindBlocker(
      {[&](WriteContext& c) {
         c.OnCommit([&] { ++committed_callbacks; });
         return Insert(c, 1);
       },
       [&](WriteContext& c) {
         // Bigger than the page cap: SQLITE_FULL. The work even swallows the
         // error; the writer must notice anyway.
         (void)c.db().Execute("INSERT INTO t (v) VALUES (zeroblob(1000000))");
         return absl::OkStatus();
       },
       [&](WriteContext& c) { return Insert(c, 3); }},
      &results);
  // Every write of the group learns that nothing was kept, even the one
  // that ran before the failure and the one that never ran.
  for (const absl::Status& s : results) EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(Rows(), (std::vector<int64_t>{0}));
  EXPECT_EQ(committed_callbacks.load(), 0);

  // The writer goes on.
  EXPECT_TRUE(writer_->Run([](WriteContext& c) { return Insert(c, 4); }).ok());
  EXPECT_EQ(Rows(), (std::vector<int64_t>{0, 4}));
}

TEST_F(GroupWriterTest, ManyCallersShareFewTransactions) {
  constexpr int kThreads = 8, kEach = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!writer_->Run([&](WriteContext& c) { return Insert(c, t * kEach + i); }).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Rows().size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_LE(writer_->GroupCount(), kThreads * kEach);
  GroupWriter::Latency latency = writer_->GroupLatency();
  EXPECT_EQ(latency.count, writer_->GroupCount());
  EXPECT_EQ(latency.cumulative.size(), std::size(GroupWriter::kLatencyBounds));
}

TEST_F(GroupWriterTest, DestructionFinishesQueuedWrites) {
  absl::Notification entered, release;
  std::vector<absl::Status> results(5);
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    results[0] = writer_->Run([&](WriteContext& c) {
      entered.Notify();
      release.WaitForNotification();
      return Insert(c, 0);
    });
  });
  entered.WaitForNotification();
  for (int i = 1; i < 5; ++i) {
    threads.emplace_back([&, i] {
      results[i] = writer_->Run([i](WriteContext& c) { return Insert(c, i); });
    });
  }
  while (writer_->QueueDepth() < 4) std::this_thread::yield();
  std::thread destroyer([&] { writer_.reset(); });
  release.Notify();
  destroyer.join();
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Rows(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace switchyard::server::sqlite
