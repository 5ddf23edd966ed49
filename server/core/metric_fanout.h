// The live tail of metric points (the TailMetrics RPC): the coordinator
// publishes every acknowledged metric batch here, and each subscriber (one
// per open TailMetrics stream) gets the points of its sweep and names from
// memory, without a database read.
//
// Publishing never waits for a subscriber: each subscription has a bounded
// queue, and when a slow reader lets it fill up the oldest points are
// dropped and counted (Subscription::dropped), so ingestion runs at its own
// pace whatever the readers do.
//
// Thread safety: every method of MetricFanout and of a Subscription may be
// called from any thread. One mutex guards every queue; Publish holds it for
// the copy of one batch into the matching queues, a reader only to move its
// queue out.
#ifndef SWITCHYARD_SERVER_CORE_METRIC_FANOUT_H_
#define SWITCHYARD_SERVER_CORE_METRIC_FANOUT_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/types.h"

namespace switchyard::server {

class MetricSubscription;

// What one subscriber wants.
struct TailFilter {
  int64_t sweep_id = 0;         // 0 = every sweep
  std::set<std::string> names;  // empty = every metric
};

class MetricFanout {
 public:
  MetricFanout() = default;
  ~MetricFanout();  // every subscription must be gone

  // A new subscription that sees every point published from now on that
  // matches `filter`, holding at most `capacity` (>= 1) unread points.
  // nullptr once closed.
  std::unique_ptr<MetricSubscription> Subscribe(TailFilter filter, size_t capacity);

  // Copies the points of one acknowledged batch of job `job_id` of sweep
  // `sweep_id` into every matching subscription's queue. Never blocks on a
  // reader.
  void Publish(int64_t sweep_id, int64_t job_id, const std::vector<MetricPoint>& points);

  // True while at least one subscription exists: publishers may skip the
  // work of finding a batch's job when nobody listens. Lock-free.
  bool HasSubscribers() const { return subscribers_count_.load(std::memory_order_acquire) > 0; }

  // Wakes every subscriber; their Next returns kClosed from now on, and
  // Subscribe returns nullptr. Idempotent.
  void Close();

 private:
  friend class MetricSubscription;
  void Unsubscribe(MetricSubscription* subscription);

  mutable absl::Mutex mutex_;
  std::set<MetricSubscription*> subscribers_ ABSL_GUARDED_BY(mutex_);
  bool closed_ ABSL_GUARDED_BY(mutex_) = false;
  std::atomic<int64_t> subscribers_count_{0};
};

// One subscriber's queue. Unsubscribes when destroyed; must not outlive its
// MetricFanout.
class MetricSubscription {
 public:
  ~MetricSubscription();
  MetricSubscription(const MetricSubscription&) = delete;
  MetricSubscription& operator=(const MetricSubscription&) = delete;

  enum class Wait { kPoints, kTimeout, kClosed };
  // Waits until the queue holds points, `timeout` passes or the fan-out is
  // closed; on kPoints moves every queued point (oldest first) into *out
  // (replacing what it held). kClosed once MetricFanout::Close was called,
  // even with points still queued.
  Wait Next(absl::Duration timeout, std::vector<JobMetricPoint>* out);

  // Points dropped so far because the queue was full (a running total).
  int64_t dropped() const;

 private:
  friend class MetricFanout;
  MetricSubscription(MetricFanout* fanout, TailFilter filter, size_t capacity)
      : fanout_(fanout), filter_(std::move(filter)), capacity_(capacity) {}

  MetricFanout* const fanout_;
  const TailFilter filter_;
  const size_t capacity_;
  absl::CondVar ready_;  // signalled with fanout_->mutex_ held
  std::deque<JobMetricPoint> queue_ ABSL_GUARDED_BY(fanout_->mutex_);
  int64_t dropped_ ABSL_GUARDED_BY(fanout_->mutex_) = 0;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_CORE_METRIC_FANOUT_H_
