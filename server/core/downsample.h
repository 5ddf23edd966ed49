// Downsampling of one metric series for views (the QuerySeries RPC): the
// points, in ascending step order, are cut into at most K buckets of
// consecutive points with equal counts (they differ by at most one), and
// each bucket keeps its first and last step, its minimum and maximum with
// their steps, its last value and its count. The global minimum and maximum
// of a series are therefore always in the answer, however small K is.
//
// A missing value (NaN: the database stores NaN as NULL) is skipped: it is
// in no bucket and not counted.
//
// Streaming: a Downsampler is told how many points will come (a COUNT query
// ahead of the read), takes them one at a time and holds only the K buckets,
// so a series of millions of points costs O(K) memory and one pass.
//
// Thread safety: a Downsampler belongs to one thread; Downsample is pure.
#ifndef SWITCHYARD_SERVER_CORE_DOWNSAMPLE_H_
#define SWITCHYARD_SERVER_CORE_DOWNSAMPLE_H_

#include <cstdint>
#include <utility>
#include <vector>

namespace switchyard::server {

struct SeriesBucket {
  int64_t first_step = 0;  // the first and last step of the bucket's points
  int64_t last_step = 0;
  double min = 0;          // the smallest value, at min_step (the first such step)
  double max = 0;          // the largest value, at max_step (the first such step)
  double last = 0;         // the value at last_step
  int64_t count = 0;       // points in the bucket, >= 1
  int64_t min_step = 0;
  int64_t max_step = 0;
};

class Downsampler {
 public:
  // `expected` is how many non-missing points Add will be given and
  // `max_buckets` (K, >= 1; smaller is taken as 1) the most buckets wanted.
  // With expected <= K every point is a bucket of its own; otherwise point j
  // (0-based) goes to bucket floor(j * K / expected). Should more points come
  // than expected (points appended between the count and the read), the
  // extra ones join the last bucket, so there are never more than K buckets.
  Downsampler(int64_t expected, int64_t max_buckets);

  // The next point; its step is above every earlier one. NaN is skipped.
  void Add(int64_t step, double value);

  int64_t points() const { return points_; }  // non-missing points added
  // The buckets, ascending steps; the object is left empty.
  std::vector<SeriesBucket> Take() { return std::move(buckets_); }

 private:
  int64_t BucketOf(int64_t index) const;

  const int64_t expected_;
  const int64_t max_buckets_;
  int64_t points_ = 0;
  std::vector<SeriesBucket> buckets_;
};

// The same in one call, over points (step, value) in ascending step order:
// counts the non-missing points, then streams them through a Downsampler.
std::vector<SeriesBucket> Downsample(const std::vector<std::pair<int64_t, double>>& points,
                                     int64_t max_buckets);

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_CORE_DOWNSAMPLE_H_
