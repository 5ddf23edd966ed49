// Injected time, so that lease expiry is tested without sleeping.
#ifndef SWITCHYARD_COMMON_BASE_CLOCK_H_
#define SWITCHYARD_COMMON_BASE_CLOCK_H_

#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace switchyard::common {

// Unix seconds as a double (microsecond resolution), the form times take on
// the wire and in the database. Debian's Abseil lacks ToDoubleUnixSeconds.
inline double ToUnixSeconds(absl::Time t) { return static_cast<double>(absl::ToUnixMicros(t)) / 1e6; }
inline absl::Time FromUnixSeconds(double seconds) {
  return absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6));
}

// Thread-safe: Now() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // The process-wide real clock; never destroyed.
  static Clock* Real();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return now_;
  }
  void Advance(absl::Duration by) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ += by;
  }

 private:
  mutable std::mutex mutex_;
  absl::Time now_;
};

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_BASE_CLOCK_H_
