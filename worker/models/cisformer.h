// The cisformer: the transformer (transformer.h) with every per-token map
// (QKV, attention output, both feed-forward layers) replaced by one with its
// own weights for each window position: parameters [T, in, out] and [T, out],
// applied as one batched matrix product with the position as batch dimension.
// Not translation invariant. The input lookup, the LayerNorms and the
// read-out stay shared. Sizes: docs/models.md.
#ifndef SWITCHYARD_WORKER_MODELS_CISFORMER_H_
#define SWITCHYARD_WORKER_MODELS_CISFORMER_H_

#include <torch/torch.h>

#include "worker/models/transformer.h"

namespace switchyard::worker::models {

// y[b, t] = x[b, t] W[t] + bias[t] for windows of up to `positions` tokens.
class PositionwiseLinear : public TokenMap {
 public:
  // Initialised like torch::nn::Linear(in, out), independently per position.
  PositionwiseLinear(int positions, int in, int out);
  // x [B, T, in] with T <= positions -> [B, T, out]; position t uses W[t].
  torch::Tensor forward(const torch::Tensor& x) override;
  AffineWeights Weights(int64_t length) const override;  // P = length

 private:
  torch::Tensor weight_;  // [positions, in, out]
  torch::Tensor bias_;    // [positions, out]
};

class CisformerModel : public TransformerModel {
 public:
  explicit CisformerModel(const ResolvedSpec& spec);
};

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_CISFORMER_H_
