#include "server/core/metric_fanout.h"

#include <algorithm>
#include <utility>

namespace switchyard::server {

MetricFanout::~MetricFanout() { Close(); }

std::unique_ptr<MetricSubscription> MetricFanout::Subscribe(TailFilter filter, size_t capacity) {
  absl::MutexLock lock(&mutex_);
  if (closed_) return nullptr;
  auto subscription = std::unique_ptr<MetricSubscription>(
      new MetricSubscription(this, std::move(filter), std::max<size_t>(capacity, 1)));
  subscribers_.insert(subscription.get());
  subscribers_count_.fetch_add(1, std::memory_order_release);
  return subscription;
}

void MetricFanout::Unsubscribe(MetricSubscription* subscription) {
  absl::MutexLock lock(&mutex_);
  if (subscribers_.erase(subscription) > 0) {
    subscribers_count_.fetch_sub(1, std::memory_order_release);
  }
}

void MetricFanout::Publish(int64_t sweep_id, int64_t job_id,
                           const std::vector<MetricPoint>& points) {
  if (points.empty() || !HasSubscribers()) return;
  absl::MutexLock lock(&mutex_);
  if (closed_) return;
  for (MetricSubscription* s : subscribers_) {
    if (s->filter_.sweep_id != 0 && s->filter_.sweep_id != sweep_id) continue;
    size_t added = 0;
    for (const MetricPoint& point : points) {
      if (!s->filter_.names.empty() && !s->filter_.names.count(point.name)) continue;
      if (s->queue_.size() >= s->capacity_) {
        // The reader fell behind: the oldest point goes, never the publisher's time.
        s->queue_.pop_front();
        ++s->dropped_;
      }
      s->queue_.push_back(JobMetricPoint{job_id, point});
      ++added;
    }
    if (added > 0) s->ready_.Signal();
  }
}

void MetricFanout::Close() {
  absl::MutexLock lock(&mutex_);
  closed_ = true;
  for (MetricSubscription* s : subscribers_) s->ready_.SignalAll();
}

MetricSubscription::~MetricSubscription() { fanout_->Unsubscribe(this); }

MetricSubscription::Wait MetricSubscription::Next(absl::Duration timeout,
                                                  std::vector<JobMetricPoint>* out) {
  out->clear();
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&fanout_->mutex_);
  while (!fanout_->closed_ && queue_.empty()) {
    // WaitWithDeadline can wake early (spuriously); the loop checks again.
    if (ready_.WaitWithDeadline(&fanout_->mutex_, deadline) && queue_.empty()) {
      return fanout_->closed_ ? Wait::kClosed : Wait::kTimeout;
    }
  }
  if (fanout_->closed_) return Wait::kClosed;
  out->assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  return Wait::kPoints;
}

int64_t MetricSubscription::dropped() const {
  absl::MutexLock lock(&fanout_->mutex_);
  return dropped_;
}

}  // namespace switchyard::server
