#include "worker/agent/metric_uploader.h"

#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/worker/agent/fakes.h"

namespace switchyard::worker {
namespace {

using testing::FakeCoordinator;

v1::AttemptRef Ref() {
  v1::AttemptRef ref;
  ref.set_attempt_id(42);
  ref.set_fencing_token("token-42");
  return ref;
}

std::vector<v1::MetricPoint> Points(int64_t step, int n = 2) {
  std::vector<v1::MetricPoint> points;
  for (int i = 0; i < n; ++i) {
    v1::MetricPoint& p = points.emplace_back();
    p.set_name(i == 0 ? "loss" : "metric" + std::to_string(i));
    p.set_step(step);
    p.set_value(1.0 / static_cast<double>(step + i + 1));
    p.set_wall_time(1700000000.0 + static_cast<double>(step));
  }
  return points;
}

class MetricUploaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("metric_uploader_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    options_.label = "job 1";
    options_.backoff.initial = absl::Milliseconds(1);
    options_.backoff.max = absl::Milliseconds(5);
    options_.spill_path = (dir_ / "metrics.spill").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  MetricUploaderOptions options_;
  FakeCoordinator coordinator_;
};

TEST_F(MetricUploaderTest, SendsBatchesInOrderWithTheAttemptAndCloses) {
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  EXPECT_EQ(uploader.Enqueue(Points(10)), 1);
  EXPECT_EQ(uploader.Enqueue(Points(20)), 2);
  EXPECT_EQ(uploader.Enqueue({}), 2);  // no points, no batch
  EXPECT_EQ(uploader.Enqueue(Points(30)), 3);
  ASSERT_TRUE(uploader.Close(absl::Now() + absl::Seconds(10)).ok());

  EXPECT_EQ(coordinator_.written_seqs(), (std::vector<int64_t>{1, 2, 3}));
  auto stored = coordinator_.stored();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[2].attempt().attempt_id(), 42);
  EXPECT_EQ(stored[2].attempt().fencing_token(), "token-42");
  ASSERT_EQ(stored[2].points_size(), 2);
  EXPECT_EQ(stored[2].points(0).name(), "loss");
  EXPECT_EQ(stored[2].points(0).step(), 20);
  EXPECT_EQ(uploader.acked_seq(), 3);
  EXPECT_EQ(coordinator_.streams_opened(), 1);
}

TEST_F(MetricUploaderTest, ReplayAfterADroppedStreamResendsExactlyTheUnackedBatches) {
  // Batches 4 and 5 are stored, but their acks never reach the worker.
  coordinator_.SetShouldAck([](int64_t seq) { return seq <= 3; });
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  for (int i = 1; i <= 5; ++i) uploader.Enqueue(Points(i * 10));
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return uploader.acked_seq() == 3; }));
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.written_seqs().size() == 5; }));

  coordinator_.SetShouldAck(nullptr);
  coordinator_.BreakStreams(absl::UnavailableError("connection reset"));
  ASSERT_TRUE(uploader.WaitForAck(5, absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(uploader.Close(absl::Now() + absl::Seconds(10)).ok());

  std::vector<int64_t> written = coordinator_.written_seqs();
  ASSERT_EQ(written.size(), 7u);
  EXPECT_EQ(std::vector<int64_t>(written.begin() + 5, written.end()),
            (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(coordinator_.streams_opened(), 2);
}

TEST_F(MetricUploaderTest, AcknowledgedBatchesAreNeverSentAgain) {
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  for (int i = 1; i <= 4; ++i) uploader.Enqueue(Points(i));
  ASSERT_TRUE(uploader.WaitForAck(4, absl::Now() + absl::Seconds(10)).ok());
  coordinator_.BreakStreams(absl::UnavailableError("coordinator restarted"));
  uploader.Enqueue(Points(5));
  ASSERT_TRUE(uploader.Close(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ(coordinator_.written_seqs(), (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

TEST_F(MetricUploaderTest, KeepsEverythingWhileTheCoordinatorIsDownAndReplaysInOrder) {
  coordinator_.SetOpenStatus(absl::UnavailableError("connection refused"));
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  for (int i = 1; i <= 10; ++i) uploader.Enqueue(Points(i));
  absl::SleepFor(absl::Milliseconds(30));  // a few failed reconnects
  EXPECT_EQ(uploader.acked_seq(), 0);
  coordinator_.SetOpenStatus(absl::OkStatus());
  ASSERT_TRUE(uploader.Close(absl::Now() + absl::Seconds(10)).ok());
  std::vector<int64_t> expected;
  for (int i = 1; i <= 10; ++i) expected.push_back(i);
  EXPECT_EQ(coordinator_.written_seqs(), expected);
}

TEST_F(MetricUploaderTest, SpillAndReloadKeepsOrderAndContent) {
  options_.max_batches_in_memory = 2;
  options_.max_in_flight = 2;
  coordinator_.SetOpenStatus(absl::UnavailableError("down"));
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  for (int i = 1; i <= 25; ++i) uploader.Enqueue(Points(i, 3));
  EXPECT_EQ(uploader.spilled_batches(), 23);
  EXPECT_TRUE(std::filesystem::exists(options_.spill_path));

  coordinator_.SetOpenStatus(absl::OkStatus());
  ASSERT_TRUE(uploader.Close(absl::Now() + absl::Seconds(10)).ok());
  std::vector<int64_t> expected;
  for (int i = 1; i <= 25; ++i) expected.push_back(i);
  EXPECT_EQ(coordinator_.written_seqs(), expected);
  auto stored = coordinator_.stored();
  for (int i = 1; i <= 25; ++i) {
    const v1::MetricBatch& batch = stored[i];
    ASSERT_EQ(batch.points_size(), 3) << "batch " << i;
    EXPECT_EQ(batch.points(0).step(), i);
    EXPECT_EQ(batch.points(2).name(), "metric2");
    EXPECT_DOUBLE_EQ(batch.points(1).value(), 1.0 / (i + 2));
    EXPECT_EQ(batch.attempt().fencing_token(), "token-42");
  }
  EXPECT_FALSE(std::filesystem::exists(options_.spill_path));
}

TEST_F(MetricUploaderTest, SpilledBatchesSurviveAStreamBreakMidReplay) {
  options_.max_batches_in_memory = 3;
  options_.max_in_flight = 3;
  coordinator_.SetOpenStatus(absl::UnavailableError("down"));
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  for (int i = 1; i <= 12; ++i) uploader.Enqueue(Points(i));
  // The coordinator comes back, stores everything but acks only up to 5,
  // then the stream breaks.
  coordinator_.SetShouldAck([](int64_t seq) { return seq <= 5; });
  coordinator_.SetOpenStatus(absl::OkStatus());
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return uploader.acked_seq() == 5; }));
  ASSERT_TRUE(coordinator_.WaitUntil([&] { return coordinator_.written_seqs().size() >= 8; }));
  coordinator_.SetShouldAck(nullptr);
  coordinator_.BreakStreams(absl::UnavailableError("reset"));
  ASSERT_TRUE(uploader.Close(absl::Now() + absl::Seconds(10)).ok());

  std::vector<int64_t> written = coordinator_.written_seqs();
  // After the break the replay starts at 6 and goes on in order to 12.
  auto last6 = std::find(written.rbegin(), written.rend(), 6);
  ASSERT_NE(last6, written.rend());
  auto restart = std::prev(last6.base());
  EXPECT_EQ(std::vector<int64_t>(restart, written.end()),
            (std::vector<int64_t>{6, 7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(coordinator_.stored().size(), 12u);
}

TEST_F(MetricUploaderTest, AMalformedBatchIsDroppedAndTheRestGoOn) {
  coordinator_.SetMetricPolicy([](const v1::MetricBatch& batch) {
    if (batch.seq() == 2) return absl::InvalidArgumentError("metrics: loss is not finite");
    return absl::OkStatus();
  });
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  for (int i = 1; i <= 4; ++i) uploader.Enqueue(Points(i));
  ASSERT_TRUE(uploader.Close(absl::Now() + absl::Seconds(10)).ok());
  auto stored = coordinator_.stored();
  EXPECT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored.count(2), 0u);
  EXPECT_EQ(uploader.dropped_batches(), 1);
  std::vector<int64_t> written = coordinator_.written_seqs();
  EXPECT_EQ(std::count(written.begin(), written.end(), 2), 1) << "a refused batch is not replayed";
}

TEST_F(MetricUploaderTest, AStaleFencingTokenStopsTheUploaderAndTellsTheOwner) {
  coordinator_.SetMetricPolicy([](const v1::MetricBatch&) {
    return absl::FailedPreconditionError("attempt 42 is not the job's running attempt");
  });
  std::atomic<int> fenced_calls{0};
  options_.on_fenced = [&](const absl::Status& status) {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    ++fenced_calls;
  };
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  uploader.Enqueue(Points(1));
  absl::Status status = uploader.WaitForAck(1, absl::Now() + absl::Seconds(10));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(uploader.fenced());
  // The callback runs on the sender thread just after waiters are woken.
  EXPECT_TRUE(coordinator_.WaitUntil([&] { return fenced_calls.load() == 1; }));
  uploader.Enqueue(Points(2));  // dropped: the attempt is not ours
  EXPECT_EQ(uploader.Close(absl::Now() + absl::Seconds(1)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(coordinator_.streams_opened(), 1);
}

TEST_F(MetricUploaderTest, CloseGivesUpAtItsDeadline) {
  coordinator_.SetOpenStatus(absl::UnavailableError("down"));
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  uploader.Enqueue(Points(1));
  absl::Time start = absl::Now();
  EXPECT_EQ(uploader.Close(start + absl::Milliseconds(100)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(MetricUploaderTest, LargeEnqueuesAreSplitIntoBatches) {
  options_.max_points_per_batch = 4;
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  EXPECT_EQ(uploader.Enqueue(Points(1, 10)), 3);  // 4 + 4 + 2
  ASSERT_TRUE(uploader.Close(absl::Now() + absl::Seconds(10)).ok());
  auto stored = coordinator_.stored();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[1].points_size(), 4);
  EXPECT_EQ(stored[3].points_size(), 2);
}

TEST_F(MetricUploaderTest, AbortDropsEverythingAndReturnsAtOnce) {
  coordinator_.SetOpenStatus(absl::UnavailableError("down"));
  MetricUploader uploader(&coordinator_, Ref(), options_);
  uploader.Start();
  uploader.Enqueue(Points(1));
  uploader.Abort();
  EXPECT_EQ(uploader.WaitForAck(1, absl::Now() + absl::Seconds(5)).code(),
            absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace switchyard::worker
