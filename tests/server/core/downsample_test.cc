// Downsampling of one series (server/core/downsample.h): equal-count buckets
// of consecutive points, the extremes of the series always kept, missing
// values skipped. Seeded randomness only.
#include "server/core/downsample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace switchyard::server {
namespace {

using Points = std::vector<std::pair<int64_t, double>>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Points RandomWalk(std::mt19937_64& rng, int n) {
  Points points;
  std::normal_distribution<double> noise(0, 1);
  std::uniform_int_distribution<int> gap(1, 5);
  int64_t step = gap(rng) - 1;
  double value = 0;
  for (int i = 0; i < n; ++i) {
    value += noise(rng);
    points.emplace_back(step, value);
    step += gap(rng);
  }
  return points;
}

// What every answer must satisfy, whatever the series and K.
void ExpectWellFormed(const Points& points, const std::vector<SeriesBucket>& buckets, int64_t k) {
  ASSERT_LE(static_cast<int64_t>(buckets.size()), std::max<int64_t>(k, 1));
  int64_t total = 0, min_count = INT64_MAX, max_count = 0;
  size_t next = 0;  // the index of the bucket's first point in `points`
  for (const SeriesBucket& b : buckets) {
    ASSERT_GE(b.count, 1);
    ASSERT_LE(next + b.count, points.size());
    const auto first = points.begin() + static_cast<long>(next);
    const auto last = first + b.count;  // one past the bucket's last point
    EXPECT_EQ(b.first_step, first->first);
    EXPECT_EQ(b.last_step, (last - 1)->first);
    EXPECT_EQ(b.last, (last - 1)->second);
    auto [lo, hi] = std::minmax_element(first, last, [](const auto& a, const auto& c) {
      return a.second < c.second;
    });
    EXPECT_EQ(b.min, lo->second);
    EXPECT_EQ(b.min_step, lo->first);  // the first of equal minima
    EXPECT_EQ(b.max, hi->second);
    EXPECT_EQ(b.max_step, std::max_element(first, last, [](const auto& a, const auto& c) {
                            return a.second < c.second;
                          })->first);
    total += b.count;
    min_count = std::min(min_count, b.count);
    max_count = std::max(max_count, b.count);
    next += static_cast<size_t>(b.count);
  }
  EXPECT_EQ(total, static_cast<int64_t>(points.size()));
  if (!buckets.empty()) EXPECT_LE(max_count - min_count, 1) << "equal counts";
}

TEST(DownsampleTest, RandomSeriesKeepTheirExtremes) {
  std::mt19937_64 rng(20261202);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = std::uniform_int_distribution<int>(1, 3000)(rng);
    const int64_t k = std::uniform_int_distribution<int64_t>(1, 400)(rng);
    Points points = RandomWalk(rng, n);
    std::vector<SeriesBucket> buckets = Downsample(points, k);
    SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k);
    ExpectWellFormed(points, buckets, k);
    EXPECT_EQ(static_cast<int64_t>(buckets.size()), std::min<int64_t>(n, k));
    auto [lo, hi] = std::minmax_element(points.begin(), points.end(),
                                        [](const auto& a, const auto& b) {
                                          return a.second < b.second;
                                        });
    double kept_min = INFINITY, kept_max = -INFINITY;
    for (const SeriesBucket& b : buckets) {
      kept_min = std::min(kept_min, b.min);
      kept_max = std::max(kept_max, b.max);
    }
    EXPECT_EQ(kept_min, lo->second);
    EXPECT_EQ(kept_max, hi->second);
    // The last point of the series is the last bucket's.
    EXPECT_EQ(buckets.back().last_step, points.back().first);
    EXPECT_EQ(buckets.back().last, points.back().second);
  }
}

TEST(DownsampleTest, AnIsolatedSpikeSurvivesAThousandFoldReduction) {
  Points points;
  for (int64_t step = 0; step < 100'000; ++step) points.emplace_back(step, 0.5);
  points[77'777].second = 9.0;
  points[12'345].second = -3.0;
  std::vector<SeriesBucket> buckets = Downsample(points, 100);
  ASSERT_EQ(buckets.size(), 100u);
  int spikes = 0, dips = 0;
  for (const SeriesBucket& b : buckets) {
    EXPECT_EQ(b.count, 1000);
    if (b.max == 9.0) {
      ++spikes;
      EXPECT_EQ(b.max_step, 77'777);
    }
    if (b.min == -3.0) {
      ++dips;
      EXPECT_EQ(b.min_step, 12'345);
    }
  }
  EXPECT_EQ(spikes, 1);
  EXPECT_EQ(dips, 1);
}

TEST(DownsampleTest, KAtLeastNGivesEveryPointItsOwnBucket) {
  Points points = {{0, 1.5}, {3, -2}, {4, 7}, {10, 7}};
  for (int64_t k : {4, 5, 1000, 100'000}) {
    std::vector<SeriesBucket> buckets = Downsample(points, k);
    ASSERT_EQ(buckets.size(), points.size()) << k;
    for (size_t i = 0; i < points.size(); ++i) {
      const SeriesBucket& b = buckets[i];
      EXPECT_EQ(b.count, 1);
      EXPECT_EQ(b.first_step, points[i].first);
      EXPECT_EQ(b.last_step, points[i].first);
      EXPECT_EQ(b.min_step, points[i].first);
      EXPECT_EQ(b.max_step, points[i].first);
      EXPECT_EQ(b.min, points[i].second);
      EXPECT_EQ(b.max, points[i].second);
      EXPECT_EQ(b.last, points[i].second);
    }
  }
}

TEST(DownsampleTest, OneBucketSummarizesTheWholeSeries) {
  Points points = {{1, 3}, {2, -1}, {5, 8}, {6, -1}, {9, 8}, {12, 2}};
  for (int64_t k : {1, 0, -5}) {  // below 1 is taken as 1
    std::vector<SeriesBucket> buckets = Downsample(points, k);
    ASSERT_EQ(buckets.size(), 1u) << k;
    const SeriesBucket& b = buckets[0];
    EXPECT_EQ(b.first_step, 1);
    EXPECT_EQ(b.last_step, 12);
    EXPECT_EQ(b.count, 6);
    EXPECT_EQ(b.min, -1);
    EXPECT_EQ(b.min_step, 2);  // the first of two equal minima
    EXPECT_EQ(b.max, 8);
    EXPECT_EQ(b.max_step, 5);
    EXPECT_EQ(b.last, 2);
  }
}

TEST(DownsampleTest, AnEmptySeriesHasNoBucket) {
  EXPECT_TRUE(Downsample({}, 10).empty());
  EXPECT_TRUE(Downsample({}, 1).empty());
  Downsampler sampler(0, 10);
  EXPECT_EQ(sampler.points(), 0);
  EXPECT_TRUE(sampler.Take().empty());
}

TEST(DownsampleTest, NaNIsMissing) {
  // NaN is how the store reads back a NULL value: not a point at all.
  Points points = {{0, kNaN}, {1, 2}, {2, kNaN}, {3, 5}, {4, 1}, {5, kNaN}};
  std::vector<SeriesBucket> buckets = Downsample(points, 1);
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets[0].count, 3);
  EXPECT_EQ(buckets[0].first_step, 1);
  EXPECT_EQ(buckets[0].last_step, 4);
  EXPECT_EQ(buckets[0].last, 1);
  EXPECT_EQ(buckets[0].min, 1);
  EXPECT_EQ(buckets[0].max, 5);
  EXPECT_FALSE(std::isnan(buckets[0].min) || std::isnan(buckets[0].max));

  // Equal counts are counts of present points.
  buckets = Downsample(points, 3);
  ASSERT_EQ(buckets.size(), 3u);
  for (const SeriesBucket& b : buckets) EXPECT_EQ(b.count, 1);

  EXPECT_TRUE(Downsample({{0, kNaN}, {1, kNaN}}, 5).empty());
}

// The streaming form, told the count ahead: the same buckets as the one-call
// form, and never more than K buckets when more points come than announced
// (points appended between the COUNT and the read).
TEST(DownsampleTest, StreamingMatchesAndAbsorbsLatePoints) {
  std::mt19937_64 rng(7);
  Points points = RandomWalk(rng, 1000);
  Downsampler sampler(1000, 37);
  for (const auto& [step, value] : points) sampler.Add(step, value);
  EXPECT_EQ(sampler.points(), 1000);
  std::vector<SeriesBucket> streamed = sampler.Take();
  std::vector<SeriesBucket> whole = Downsample(points, 37);
  ASSERT_EQ(streamed.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(streamed[i].first_step, whole[i].first_step);
    EXPECT_EQ(streamed[i].count, whole[i].count);
    EXPECT_EQ(streamed[i].max, whole[i].max);
  }

  for (int64_t announced : {int64_t{0}, int64_t{5}, int64_t{500}}) {
    Downsampler late(announced, 37);
    for (const auto& [step, value] : points) late.Add(step, value);
    std::vector<SeriesBucket> buckets = late.Take();
    SCOPED_TRACE(announced);
    EXPECT_LE(buckets.size(), 37u);
    int64_t total = 0;
    double kept_max = -INFINITY;
    for (const SeriesBucket& b : buckets) {
      total += b.count;
      kept_max = std::max(kept_max, b.max);
    }
    EXPECT_EQ(total, 1000);
    EXPECT_EQ(kept_max, std::max_element(points.begin(), points.end(),
                                         [](const auto& a, const auto& b) {
                                           return a.second < b.second;
                                         })->second);
    EXPECT_EQ(buckets.back().last_step, points.back().first);
  }
}

}  // namespace
}  // namespace switchyard::server
