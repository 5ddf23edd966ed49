// The live tail's fan-out (server/core/metric_fanout.h): filters, bounded
// queues that drop the oldest, a publisher that never waits for a reader,
// and Close waking every reader.
#include "server/core/metric_fanout.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace switchyard::server {
namespace {

std::vector<MetricPoint> Points(const std::string& name, int64_t first_step, int n) {
  std::vector<MetricPoint> points;
  for (int i = 0; i < n; ++i) {
    points.push_back({name, first_step + i, 0.5 * static_cast<double>(i), 1.7e9});
  }
  return points;
}

TEST(MetricFanoutTest, DeliversMatchingPointsInOrder) {
  MetricFanout fanout;
  EXPECT_FALSE(fanout.HasSubscribers());
  auto everything = fanout.Subscribe({}, 100);
  auto sweep2_loss = fanout.Subscribe({2, {"loss"}}, 100);
  ASSERT_NE(everything, nullptr);
  ASSERT_NE(sweep2_loss, nullptr);
  EXPECT_TRUE(fanout.HasSubscribers());

  fanout.Publish(1, 10, Points("loss", 0, 2));
  fanout.Publish(2, 20, Points("accuracy", 0, 1));
  fanout.Publish(2, 21, Points("loss", 5, 3));

  std::vector<JobMetricPoint> got;
  ASSERT_EQ(everything->Next(absl::Seconds(1), &got), MetricSubscription::Wait::kPoints);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0].job_id, 10);
  EXPECT_EQ(got[2].job_id, 20);
  EXPECT_EQ(got[2].point.name, "accuracy");
  EXPECT_EQ(got[5].job_id, 21);
  EXPECT_EQ(got[5].point.step, 7);

  ASSERT_EQ(sweep2_loss->Next(absl::Seconds(1), &got), MetricSubscription::Wait::kPoints);
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].job_id, 21);
    EXPECT_EQ(got[i].point.name, "loss");
    EXPECT_EQ(got[i].point.step, 5 + static_cast<int64_t>(i));
  }
  EXPECT_EQ(everything->dropped(), 0);

  // Nothing new: a timeout, with nothing in *out.
  EXPECT_EQ(sweep2_loss->Next(absl::Milliseconds(20), &got), MetricSubscription::Wait::kTimeout);
  EXPECT_TRUE(got.empty());

  everything.reset();
  sweep2_loss.reset();
  EXPECT_FALSE(fanout.HasSubscribers());
}

TEST(MetricFanoutTest, ASlowReaderLosesTheOldestPointsAndCountsThem) {
  MetricFanout fanout;
  auto slow = fanout.Subscribe({}, 10);
  for (int batch = 0; batch < 5; ++batch) fanout.Publish(1, 1, Points("loss", batch * 4, 4));
  std::vector<JobMetricPoint> got;
  ASSERT_EQ(slow->Next(absl::Seconds(1), &got), MetricSubscription::Wait::kPoints);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got.front().point.step, 10);  // 20 published, the first 10 dropped
  EXPECT_EQ(got.back().point.step, 19);
  EXPECT_EQ(slow->dropped(), 10);
  fanout.Publish(1, 1, Points("loss", 20, 1));
  ASSERT_EQ(slow->Next(absl::Seconds(1), &got), MetricSubscription::Wait::kPoints);
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(slow->dropped(), 10);  // a running total
}

// A reader that never reads does not slow the publisher down: a million
// points go through with a queue of 100 in far less than a second per batch,
// and a fast reader beside it gets everything.
TEST(MetricFanoutTest, PublishingNeverWaitsForAReader) {
  MetricFanout fanout;
  auto never_reads = fanout.Subscribe({}, 100);
  auto reader = fanout.Subscribe({}, 1'000'000);
  std::vector<MetricPoint> batch = Points("loss", 0, 1000);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) fanout.Publish(1, 1, batch);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(20));
  EXPECT_EQ(never_reads->dropped(), 1'000'000 - 100);
  std::vector<JobMetricPoint> got;
  ASSERT_EQ(reader->Next(absl::Seconds(1), &got), MetricSubscription::Wait::kPoints);
  EXPECT_EQ(got.size(), 1'000'000u);
  EXPECT_EQ(reader->dropped(), 0);
}

TEST(MetricFanoutTest, NextWakesWhenPointsArrive) {
  MetricFanout fanout;
  auto subscription = fanout.Subscribe({}, 100);
  auto waiting = std::async(std::launch::async, [&] {
    std::vector<JobMetricPoint> got;
    MetricSubscription::Wait wait = subscription->Next(absl::Seconds(30), &got);
    return std::make_pair(wait, got.size());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto start = std::chrono::steady_clock::now();
  fanout.Publish(3, 4, Points("loss", 0, 2));
  auto [wait, n] = waiting.get();
  EXPECT_EQ(wait, MetricSubscription::Wait::kPoints);
  EXPECT_EQ(n, 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(MetricFanoutTest, CloseWakesEveryReaderAndRefusesNewOnes) {
  MetricFanout fanout;
  auto a = fanout.Subscribe({}, 100);
  auto b = fanout.Subscribe({7, {}}, 100);
  auto wait_a = std::async(std::launch::async, [&] {
    std::vector<JobMetricPoint> got;
    return a->Next(absl::Seconds(60), &got);
  });
  auto wait_b = std::async(std::launch::async, [&] {
    std::vector<JobMetricPoint> got;
    return b->Next(absl::Seconds(60), &got);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  fanout.Close();
  ASSERT_EQ(wait_a.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(wait_b.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(wait_a.get(), MetricSubscription::Wait::kClosed);
  EXPECT_EQ(wait_b.get(), MetricSubscription::Wait::kClosed);
  EXPECT_EQ(fanout.Subscribe({}, 10), nullptr);
  fanout.Publish(7, 1, Points("loss", 0, 1));  // a no-op
  std::vector<JobMetricPoint> got;
  EXPECT_EQ(a->Next(absl::Seconds(1), &got), MetricSubscription::Wait::kClosed);
}

}  // namespace
}  // namespace switchyard::server
