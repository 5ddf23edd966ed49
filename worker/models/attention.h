// Causal multi-head attention with ALiBi, in the two kinds of specs/iarc.md:
//   softmax:    a_ij ∝ exp(z_ij - m_h (i - j)),                      j <= i
//   expressive: a_ij ∝ z_ij^2 / (1 + z_ij^2) * exp(-m_h (i - j)),    j <= i
// with z = q·k / sqrt(head_dim). Future keys (j > i) get weight exactly 0:
// softmax through an additive -inf, expressive through a multiplicative 0
// mask applied after squaring, so no -inf is ever squared. Expressive rows
// are divided by (sum + kExpressiveEps), so a row of all-zero scores gives
// zero weights, not NaN.
//
// Pure functions of their arguments; thread-compatible. Shapes are checked by
// LibTorch (c10::Error on mismatch).
#ifndef SWITCHYARD_WORKER_MODELS_ATTENTION_H_
#define SWITCHYARD_WORKER_MODELS_ATTENTION_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/kinds.h"

namespace switchyard::worker::models {

inline constexpr double kExpressiveEps = 1e-6;

// The standard ALiBi slopes (Press et al. 2022): for a power of two n,
// m_h = 2^(-8 h / n), h = 1..n; otherwise the slopes of the largest power of
// two p < n followed by every other slope of 2p.
std::vector<double> AlibiSlopes(int heads);

// The position prior of one kind for windows of length t, shape [H, t, t]:
// softmax: the additive bias -m_h (i - j), -inf where j > i;
// expressive: the factor exp(-m_h (i - j)), 0 where j > i.
// `slopes` is [H] float on the device the result should live on.
torch::Tensor AttentionPrior(AttentionKind kind, const torch::Tensor& slopes,
                             int64_t t);

// Attention weights from scaled scores z [B, H, T, T] and the prior of
// AttentionPrior(kind, slopes, T). Returns [B, H, T, T]; each row sums to 1
// (softmax), or to sum/(sum + eps) (expressive), and is exactly 0 for j > i.
torch::Tensor AttentionWeights(const torch::Tensor& z, AttentionKind kind,
                               const torch::Tensor& prior);

// q, k, v [B, H, T, head_dim] -> [B, H, T, head_dim].
torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k,
                     const torch::Tensor& v, AttentionKind kind,
                     const torch::Tensor& prior);

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_ATTENTION_H_
