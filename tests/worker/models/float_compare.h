// Comparing two float code paths (fused against reference, oneDNN against
// OpenBLAS) with a tolerance that holds on every BLAS and oneDNN kernel.
//
// Why a derived tolerance. The two paths compute the same sums of products
// in different orders: OpenBLAS picks its kernel (and so its blocking and
// FMA use) by processor or by OPENBLAS_CORETYPE, oneDNN by the ISA it finds,
// and the fused kernels sum in an order of their own. None of them is "the"
// right rounding, so a test may not assume any one kernel's last bits.
//
// The bound. Let eps = 2^-23 (float's machine epsilon; the unit roundoff is
// u = eps / 2). A sum of K terms, added in any order, with or without FMA,
// is within gamma_K * sum|term_i| ~ K u sum|term_i| of the exact sum
// (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., 3.1).
// The terms of our sums have random signs, so their partial sums grow like
// sqrt(k) |term| and the result is ~ sqrt(K) |term|; the k-th rounding is
// at most u sqrt(k) |term|, and all K of them together at most
// u |term| sum_k sqrt(k) ~ (2/3) K^1.5 u |term| = (2/3) K u |result|.
// Two paths each within that of the exact result differ by at most
// (4/3) K u = (2/3) K eps relative to the result, for every summation order.
// A result that goes through several reductions in a row (a layer's
// products, then the next layer's, then the backward pass, then the sum
// over the batch for a weight gradient) first-order adds their relative
// errors, so K is the SUM of the reduction lengths along the longest chain
// that feeds the compared tensor. The tolerance is K eps: the worst case
// above, (2/3) K eps, and half as much again for the roundings that are
// not sums (exp, division, sqrt: about one u each per step of the chain,
// and every step of the chain adds at least one to K).
//
// What is compared: max|a - b| over the tensor divided by max|b| over the
// tensor (not entry by entry: an entry near zero after cancellation carries
// the rounding of the large terms it came from, so only the tensor's scale
// is a fair yardstick). No absolute floor: a gradient of 1e-3 is judged at
// its own scale. Random rounding typically lands near sqrt(K) u, far below
// K eps; a wrong kernel (a missed term, a wrong index) gives ratios near 1.
//
// Where conditioning amplifies rounding past K eps (expressive attention:
// see AsCloseToExactAsReference), the fused path is compared with the exact
// result instead. Double-precision gradient checks use neither: they stay
// strict (1e-9 and below) and are the proof of correctness.
#ifndef SWITCHYARD_TESTS_WORKER_MODELS_FLOAT_COMPARE_H_
#define SWITCHYARD_TESTS_WORKER_MODELS_FLOAT_COMPARE_H_

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace switchyard::worker::models {

// float's machine epsilon, 2^-23 ~ 1.19e-7.
inline constexpr double kFloatEpsilon = std::numeric_limits<float>::epsilon();

// The tolerance on RelativeMaxDifference for two float paths whose results
// come from reductions of `reduction_length` terms in all (the sum of the
// inner lengths along the longest chain; see the derivation above).
inline double FloatPathTolerance(int64_t reduction_length) {
  return static_cast<double>(reduction_length) * kFloatEpsilon;
}

// max|a - b| / max|b|, computed in double. When b is all zero the divisor is
// float's smallest normal number, so any difference fails and none passes.
inline double RelativeMaxDifference(const torch::Tensor& a,
                                    const torch::Tensor& b) {
  const torch::Tensor da = a.detach().to(torch::kDouble);
  const torch::Tensor db = b.detach().to(torch::kDouble);
  if (da.numel() == 0) return 0;
  const double diff = (da - db).abs().max().item<double>();
  const double scale = std::max(db.abs().max().item<double>(),
                                double{std::numeric_limits<float>::min()});
  return diff / scale;
}

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Pairs names[i] with tensors[i] (the same count).
inline NamedTensors Named(const std::vector<std::string>& names,
                          const std::vector<torch::Tensor>& tensors) {
  NamedTensors named;
  for (size_t i = 0; i < tensors.size(); ++i) {
    named.emplace_back(i < names.size() ? names[i] : std::to_string(i),
                       tensors[i]);
  }
  return named;
}

// Passes when every pair (same names, same shapes, in the same order) has
// RelativeMaxDifference(a, b) <= FloatPathTolerance(reduction_length). The
// failure message names the worst tensor, its ratio and the tolerance, then
// every tensor over it.
inline ::testing::AssertionResult CloseInFloat(const NamedTensors& a,
                                               const NamedTensors& b,
                                               int64_t reduction_length) {
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure()
           << a.size() << " tensors against " << b.size();
  }
  const double tolerance = FloatPathTolerance(reduction_length);
  double worst = -1;
  std::string worst_name;
  std::ostringstream over;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || a[i].second.sizes() != b[i].second.sizes()) {
      return ::testing::AssertionFailure()
             << "tensor " << i << ": " << a[i].first << " "
             << a[i].second.sizes() << " against " << b[i].first << " "
             << b[i].second.sizes();
    }
    const double ratio = RelativeMaxDifference(a[i].second, b[i].second);
    if (!(ratio <= tolerance)) over << "\n  " << a[i].first << " " << ratio;
    if (!(ratio <= worst)) {  // also takes a NaN ratio
      worst = ratio;
      worst_name = a[i].first;
    }
  }
  if (!(worst <= tolerance)) {
    return ::testing::AssertionFailure()
           << "worst: " << worst_name << " max|a-b|/max|b| = " << worst
           << " > " << tolerance << " = " << reduction_length
           << " * float eps; over it:" << over.str();
  }
  return ::testing::AssertionSuccess()
         << "worst: " << worst_name << " " << worst << " <= " << tolerance;
}

// One tensor: the same test, named `what` in the message.
inline ::testing::AssertionResult CloseInFloat(const torch::Tensor& a,
                                               const torch::Tensor& b,
                                               int64_t reduction_length,
                                               const std::string& what = "") {
  return CloseInFloat(NamedTensors{{what, a}}, NamedTensors{{what, b}},
                      reduction_length);
}

// Where the computation's conditioning amplifies rounding beyond K eps (the
// expressive attention: a row whose scores are near 0 divides by a sum of
// squares of near-cancelling dot products), neither float path is the yard
// stick; the exact result is. Passes when, for every tensor,
//   RelativeMaxDifference(fused, exact)
//     <= 2 RelativeMaxDifference(reference, exact) + FloatPathTolerance(K) / 2,
// i.e. the fused path is no further from the exact (double) result than
// twice the reference path's error, plus one path's share of the bound. The
// three lists name the same tensors in the same order.
inline ::testing::AssertionResult AsCloseToExactAsReference(
    const NamedTensors& fused, const NamedTensors& reference,
    const NamedTensors& exact, int64_t reduction_length) {
  if (fused.size() != reference.size() || fused.size() != exact.size()) {
    return ::testing::AssertionFailure()
           << fused.size() << ", " << reference.size() << " and "
           << exact.size() << " tensors";
  }
  const double floor = FloatPathTolerance(reduction_length) / 2;
  std::ostringstream over;
  for (size_t i = 0; i < fused.size(); ++i) {
    const double fused_error =
        RelativeMaxDifference(fused[i].second, exact[i].second);
    const double reference_error =
        RelativeMaxDifference(reference[i].second, exact[i].second);
    if (!(fused_error <= 2 * reference_error + floor)) {
      over << "\n  " << fused[i].first << ": fused " << fused_error
           << ", reference " << reference_error;
    }
  }
  if (!over.str().empty()) {
    return ::testing::AssertionFailure()
           << "errors against the exact result, over 2 x the reference's + "
           << floor << " (" << reduction_length << " * float eps / 2):"
           << over.str();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_TESTS_WORKER_MODELS_FLOAT_COMPARE_H_
