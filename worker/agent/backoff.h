// Exponential backoff with jitter for reconnects and retries.
//
// Delay n (0-based, counting failures since the last Reset) is
//   min(max, initial * multiplier^n) * (1 + U[-jitter, +jitter]),
// so a fleet of workers that lost the coordinator at the same moment does not
// come back in lock step. The randomness is seeded, so tests are repeatable.
//
// Thread safety: none; each retry loop owns its Backoff.
#ifndef SWITCHYARD_WORKER_AGENT_BACKOFF_H_
#define SWITCHYARD_WORKER_AGENT_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace switchyard::worker {

struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(200);
  absl::Duration max = absl::Seconds(10);
  double multiplier = 2.0;
  double jitter = 0.2;  // fraction of the delay, in [0, 1)
};

class Backoff {
 public:
  explicit Backoff(BackoffOptions options = {}, uint64_t seed = std::random_device{}());

  // The delay to wait before the next try; each call counts one more failure.
  absl::Duration NextDelay();
  // A success: the next delay starts from `initial` again.
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 rng_;
  int failures_ = 0;
};

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_BACKOFF_H_
