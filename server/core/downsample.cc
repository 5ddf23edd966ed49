#include "server/core/downsample.h"

#include <algorithm>
#include <cmath>

namespace switchyard::server {

Downsampler::Downsampler(int64_t expected, int64_t max_buckets)
    : expected_(std::max<int64_t>(expected, 0)), max_buckets_(std::max<int64_t>(max_buckets, 1)) {
  buckets_.reserve(static_cast<size_t>(std::min(expected_, max_buckets_)));
}

int64_t Downsampler::BucketOf(int64_t index) const {
  if (expected_ <= max_buckets_) return std::min(index, max_buckets_ - 1);
  if (index >= expected_) return max_buckets_ - 1;
  // index < expected_ and K <= 100,000 in practice: the product stays far
  // below 2^63 for any series a database can hold; 128 bits regardless.
  return static_cast<int64_t>(static_cast<__int128>(index) * max_buckets_ / expected_);
}

void Downsampler::Add(int64_t step, double value) {
  if (std::isnan(value)) return;
  const int64_t bucket = BucketOf(points_++);
  if (buckets_.empty() || static_cast<int64_t>(buckets_.size()) - 1 < bucket) {
    SeriesBucket b;
    b.first_step = b.last_step = b.min_step = b.max_step = step;
    b.min = b.max = b.last = value;
    b.count = 1;
    buckets_.push_back(b);
    return;
  }
  SeriesBucket& b = buckets_.back();
  b.last_step = step;
  b.last = value;
  ++b.count;
  if (value < b.min) {
    b.min = value;
    b.min_step = step;
  }
  if (value > b.max) {
    b.max = value;
    b.max_step = step;
  }
}

std::vector<SeriesBucket> Downsample(const std::vector<std::pair<int64_t, double>>& points,
                                     int64_t max_buckets) {
  int64_t present = 0;
  for (const auto& [step, value] : points) present += std::isnan(value) ? 0 : 1;
  Downsampler sampler(present, max_buckets);
  for (const auto& [step, value] : points) sampler.Add(step, value);
  return sampler.Take();
}

}  // namespace switchyard::server
