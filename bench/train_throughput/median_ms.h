// The timing rule of the kernel benchmarks (attention_bench,
// feed_forward_bench): `warmup` untimed calls, then the median of
// `iterations` timed ones, in milliseconds.
#ifndef SWITCHYARD_BENCH_TRAIN_THROUGHPUT_MEDIAN_MS_H_
#define SWITCHYARD_BENCH_TRAIN_THROUGHPUT_MEDIAN_MS_H_

#include <algorithm>
#include <chrono>
#include <vector>

namespace switchyard::bench {

template <typename F>
double MedianMs(int warmup, int iterations, F&& body) {
  for (int i = 0; i < warmup; ++i) body();
  std::vector<double> ms;
  for (int i = 0; i < iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    body();
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  return ms.empty() ? 0.0 : ms[ms.size() / 2];
}

}  // namespace switchyard::bench

#endif  // SWITCHYARD_BENCH_TRAIN_THROUGHPUT_MEDIAN_MS_H_
