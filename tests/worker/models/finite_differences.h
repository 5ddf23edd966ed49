// Central differences for the fused operations' gradient checks (double).
#ifndef SWITCHYARD_TESTS_WORKER_MODELS_FINITE_DIFFERENCES_H_
#define SWITCHYARD_TESTS_WORKER_MODELS_FINITE_DIFFERENCES_H_

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

namespace switchyard::worker::models {

// Moves each entry of `input` (a contiguous double tensor that `loss` reads)
// by +-h, and returns the worst |numeric - analytic| / (1 + |analytic|) over
// its entries, where numeric = (loss(+h) - loss(-h)) / 2h and analytic is
// the same entry of `analytic` (same shape). Leaves `input` as it found it.
inline double WorstCentralDifferenceError(const torch::Tensor& input,
                                          const torch::Tensor& analytic,
                                          const std::function<double()>& loss,
                                          double h = 1e-6) {
  double* data = input.data_ptr<double>();
  const torch::Tensor expected = analytic.contiguous();
  const double* a = expected.data_ptr<double>();
  double worst = 0;
  for (int64_t e = 0; e < input.numel(); ++e) {
    const double saved = data[e];
    data[e] = saved + h;
    const double up = loss();
    data[e] = saved - h;
    const double down = loss();
    data[e] = saved;
    worst = std::max(worst, std::abs((up - down) / (2 * h) - a[e]) / (1.0 + std::abs(a[e])));
  }
  return worst;
}

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_TESTS_WORKER_MODELS_FINITE_DIFFERENCES_H_
