#include "worker/agent/backoff.h"

#include <algorithm>
#include <cmath>

namespace switchyard::worker {

Backoff::Backoff(BackoffOptions options, uint64_t seed) : options_(options), rng_(seed) {
  options_.multiplier = std::max(1.0, options_.multiplier);
  options_.jitter = std::clamp(options_.jitter, 0.0, 0.99);
  if (options_.max < options_.initial) options_.max = options_.initial;
}

absl::Duration Backoff::NextDelay() {
  // Grow in floating point and cap before converting: multiplier^n overflows
  // a Duration long before n overflows an int.
  double base = absl::ToDoubleSeconds(options_.initial) *
                std::pow(options_.multiplier, std::min(failures_, 64));
  base = std::min(base, absl::ToDoubleSeconds(options_.max));
  ++failures_;
  std::uniform_real_distribution<double> unit(-options_.jitter, options_.jitter);
  return absl::Seconds(base * (1.0 + unit(rng_)));
}

}  // namespace switchyard::worker
