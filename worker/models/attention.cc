#include "worker/models/attention.h"

#include <cmath>
#include <limits>

namespace switchyard::worker::models {
namespace {

// Expressive weights with a hand-written backward. Autograd through the
// plain formula records about twice as many full-size [B, H, T, T] ops (the
// quotient rule twice, broadcast reductions); with T = 24 those elementwise
// passes, not the matrix products, dominate a small model's step.
//   u = p z^2 / (1 + z^2),  S = sum_j u + eps,  a = u / S
//   dL/du_j = (g_j - sum_k g_k a_k) / S
//   dL/dz   = dL/du * p * 2 z / (1 + z^2)^2
class ExpressiveFunction
    : public torch::autograd::Function<ExpressiveFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& z,
                               const torch::Tensor& prior) {
    torch::Tensor a = z.square();         // z^2
    torch::Tensor denominator = a + 1.0;  // 1 + z^2
    // The prior's zeros mask the future after squaring, as the contract
    // requires: finite times 0 is 0.
    a.div_(denominator).mul_(prior);
    torch::Tensor sum = a.sum(-1, /*keepdim=*/true).add_(kExpressiveEps);
    a.div_(sum);
    ctx->save_for_backward({z, denominator, prior, a, sum});
    return a;
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& z = saved[0];
    const torch::Tensor& denominator = saved[1];
    const torch::Tensor& prior = saved[2];
    const torch::Tensor& a = saved[3];
    const torch::Tensor& sum = saved[4];
    const torch::Tensor& g = grad_outputs[0];
    torch::Tensor grad = g - (g * a).sum(-1, /*keepdim=*/true);
    grad.div_(sum).mul_(prior).mul_(z).mul_(2.0).div_(denominator.square());
    return {grad, torch::Tensor()};
  }
};

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
  torch::Tensor distance =
      pos.unsqueeze(1) - pos.unsqueeze(0);  // [t, t]: i - j
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
    return ExpressiveFunction::apply(z, prior);  // [B, H, T, T]
  }
  return torch::softmax(z + prior, -1);
}

torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k,
                     const torch::Tensor& v, AttentionKind kind,
                     const torch::Tensor& prior) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  // Scaling q ([.., T, hd]) is cheaper than scaling z ([.., T, T]).
  torch::Tensor z =
      torch::matmul(q * scale, k.transpose(-2, -1));          // [B, H, T, T]
  return torch::matmul(AttentionWeights(z, kind, prior), v);  // [B, H, T, hd]
}

}  // namespace switchyard::worker::models
