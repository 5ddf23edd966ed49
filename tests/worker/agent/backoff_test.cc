#include "worker/agent/backoff.h"

#include "gtest/gtest.h"

namespace switchyard::worker {
namespace {

TEST(BackoffTest, GrowsExponentiallyUpToTheMaximum) {
  BackoffOptions options;
  options.initial = absl::Milliseconds(100);
  options.max = absl::Seconds(1);
  options.multiplier = 2;
  options.jitter = 0;
  Backoff backoff(options, 1);
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(100));
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(200));
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(400));
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(800));
  EXPECT_EQ(backoff.NextDelay(), absl::Seconds(1));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(backoff.NextDelay(), absl::Seconds(1));
  EXPECT_EQ(backoff.failures(), 105);
}

TEST(BackoffTest, ResetStartsOver) {
  BackoffOptions options;
  options.jitter = 0;
  Backoff backoff(options, 1);
  backoff.NextDelay();
  backoff.NextDelay();
  backoff.Reset();
  EXPECT_EQ(backoff.NextDelay(), options.initial);
}

TEST(BackoffTest, JitterStaysWithinItsBoundsAndSpreadsTheDelays) {
  BackoffOptions options;
  options.initial = absl::Seconds(1);
  options.max = absl::Seconds(1);
  options.jitter = 0.2;
  Backoff backoff(options, 12345);
  absl::Duration low = absl::InfiniteDuration(), high = absl::ZeroDuration();
  for (int i = 0; i < 1000; ++i) {
    absl::Duration d = backoff.NextDelay();
    EXPECT_GE(d, absl::Milliseconds(800));
    EXPECT_LE(d, absl::Milliseconds(1200));
    low = std::min(low, d);
    high = std::max(high, d);
  }
  EXPECT_LT(low, absl::Milliseconds(850));
  EXPECT_GT(high, absl::Milliseconds(1150));
}

TEST(BackoffTest, TheSameSeedGivesTheSameDelays) {
  Backoff a(BackoffOptions{}, 99), b(BackoffOptions{}, 99);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.NextDelay(), b.NextDelay());
}

}  // namespace
}  // namespace switchyard::worker
