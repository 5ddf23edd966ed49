#include "worker/models/attention.h"

#include <cmath>
#include <limits>

namespace switchyard::worker::models {
namespace {

std::vector<double> PowerOfTwoSlopes(int n) {
  std::vector<double> slopes;
  const double start = std::pow(2.0, -8.0 / n);
  double m = start;
  for (int h = 0; h < n; ++h) {
    slopes.push_back(m);
    m *= start;
  }
  return slopes;
}

}  // namespace

std::vector<double> AlibiSlopes(int heads) {
  if (heads <= 0) return {};
  int p = 1;
  while (p * 2 <= heads) p *= 2;
  std::vector<double> slopes = PowerOfTwoSlopes(p);
  if (p == heads) return slopes;
  const std::vector<double> extra = PowerOfTwoSlopes(2 * p);
  for (int i = 0; static_cast<int>(slopes.size()) < heads; i += 2) {
    slopes.push_back(extra[i]);
  }
  return slopes;
}

torch::Tensor AttentionPrior(AttentionKind kind, const torch::Tensor& slopes,
                             int64_t t) {
  auto options = slopes.options();
  torch::Tensor pos = torch::arange(t, options);
  torch::Tensor distance = pos.unsqueeze(1) - pos.unsqueeze(0);  // [t, t]: i - j
  torch::Tensor causal = distance.ge(0);
  // Clamp first so the future half never holds exp(+m (j - i)) overflows.
  torch::Tensor bias = -slopes.view({-1, 1, 1}) *
                       distance.clamp_min(0).unsqueeze(0);  // [H, t, t]
  if (kind == AttentionKind::kExpressive) {
    return bias.exp() * causal.unsqueeze(0).to(bias.scalar_type());
  }
  return bias.masked_fill(causal.logical_not().unsqueeze(0),
                          -std::numeric_limits<double>::infinity());
}

torch::Tensor AttentionWeights(const torch::Tensor& z, AttentionKind kind,
                               const torch::Tensor& prior) {
  if (kind == AttentionKind::kExpressive) {
    torch::Tensor z2 = z.square();
    // The prior's zeros mask the future after squaring: finite times 0 is 0.
    torch::Tensor w = z2 / (z2 + 1.0) * prior;  // [B, H, T, T]
    return w / (w.sum(-1, /*keepdim=*/true) + kExpressiveEps);
  }
  return torch::softmax(z + prior, -1);
}

torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k,
                     const torch::Tensor& v, AttentionKind kind,
                     const torch::Tensor& prior) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  torch::Tensor z = torch::matmul(q, k.transpose(-2, -1)) * scale;  // [B, H, T, T]
  return torch::matmul(AttentionWeights(z, kind, prior), v);        // [B, H, T, hd]
}

}  // namespace switchyard::worker::models
