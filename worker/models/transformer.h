// The decoder-only transformer of the study: input lookup (d -> width, no
// position embedding: ALiBi carries position), `layers` pre-norm residual
// blocks
//   x = x + Out(Attend(QKV(LayerNorm(x))))
//   x = x + Ffn2(relu(Ffn1(LayerNorm(x))))
// then a final LayerNorm and a linear read-out to the N numbers.
//
// The per-token maps (QKV, Out, Ffn1, Ffn2) come from a TokenMapFactory, so
// the cisformer (cisformer.h) is this class with position-dependent maps.
#ifndef SWITCHYARD_WORKER_MODELS_TRANSFORMER_H_
#define SWITCHYARD_WORKER_MODELS_TRANSFORMER_H_

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "worker/models/embedding.h"
#include "worker/models/fused_feed_forward.h"
#include "worker/models/model.h"

namespace switchyard::worker::models {

// An affine map applied to every token: [B, T, in] -> [B, T, out].
class TokenMap : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  // The parameters as [P, in, out] and [P, out] views for a window of
  // `length` tokens (what FusedFeedForward takes); gradients flow back.
  virtual AffineWeights Weights(int64_t length) const = 0;
};

// One weight matrix shared by all positions (torch::nn::Linear). With
// `fused`, CPU inputs go through FastLinear (cpu_gemm.h).
class SharedLinear : public TokenMap {
 public:
  SharedLinear(int in, int out, bool fused = false);
  torch::Tensor forward(const torch::Tensor& x) override;
  AffineWeights Weights(int64_t length) const override;  // P = 1

 private:
  torch::nn::Linear linear_{nullptr};
  bool fused_;
};

using TokenMapFactory =
    std::function<std::shared_ptr<TokenMap>(int in, int out)>;

class TransformerBlock : public torch::nn::Module {
 public:
  TransformerBlock(const ResolvedSpec& spec, const TokenMapFactory& make_map);
  // x [B, T, width]. With `prior` ([H, T, T] from AttentionPrior) defined,
  // the block takes the reference path (Attend, two TokenMaps and a relu);
  // otherwise the fused one (FusedAttention with the ALiBi `slopes` [H],
  // FusedFeedForward; CPU only).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& prior,
                        const torch::Tensor& slopes);

 private:
  int heads_;
  AttentionKind attention_;
  torch::nn::LayerNorm norm1_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  std::shared_ptr<TokenMap> qkv_;   // width -> 3 * width
  std::shared_ptr<TokenMap> out_;   // width -> width
  std::shared_ptr<TokenMap> ffn1_;  // width -> ffn_width
  std::shared_ptr<TokenMap> ffn2_;  // ffn_width -> width
};

class TransformerModel : public SequenceModel {
 public:
  // Shared (translation-invariant) maps.
  explicit TransformerModel(const ResolvedSpec& spec);
  // Maps made by `make_map` (the cisformer passes position-dependent ones).
  // spec.kernels picks the attention path; kFused on a non-CPU device
  // takes the reference path.
  TransformerModel(const ResolvedSpec& spec, const TokenMapFactory& make_map);

  torch::Tensor Forward(const torch::Tensor& ids,
                        const torch::Tensor& control_ids) override;

 private:
  InputLookup input_{nullptr};
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  torch::nn::LayerNorm final_norm_{nullptr};
  torch::nn::Linear head_{nullptr};
  torch::Tensor slopes_;  // [heads] ALiBi slopes (a buffer: follows .to())
  torch::Tensor positions_;  // [Nc, width], or undefined (spec.learned_positions)
};

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_TRANSFORMER_H_
