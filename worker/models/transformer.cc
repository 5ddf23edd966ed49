#include "worker/models/transformer.h"

#include <string>

#include "worker/models/attention.h"
#include "worker/models/cpu_gemm.h"
#include "worker/models/fused_attention.h"

namespace switchyard::worker::models {

SharedLinear::SharedLinear(int in, int out, bool fused) : fused_(fused) {
  linear_ = register_module("linear", torch::nn::Linear(in, out));
}

torch::Tensor SharedLinear::forward(const torch::Tensor& x) {
  if (fused_ && x.is_cpu()) {
    return FastLinear(x, linear_->weight, linear_->bias);
  }
  return linear_->forward(x);
}

AffineWeights SharedLinear::Weights(int64_t /*length*/) const {
  return {linear_->weight.t().unsqueeze(0), linear_->bias.unsqueeze(0)};
}

TransformerBlock::TransformerBlock(const ResolvedSpec& spec,
                                   const TokenMapFactory& make_map)
    : heads_(spec.sizes.heads), attention_(spec.attention) {
  const int width = spec.sizes.width;
  norm1_ = register_module(
      "norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  norm2_ = register_module(
      "norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  qkv_ = register_module("qkv", make_map(width, 3 * width));
  out_ = register_module("out", make_map(width, width));
  ffn1_ = register_module("ffn1", make_map(width, spec.sizes.ffn_width));
  ffn2_ = register_module("ffn2", make_map(spec.sizes.ffn_width, width));
}

torch::Tensor TransformerBlock::forward(const torch::Tensor& x,
                                        const torch::Tensor& prior,
                                        const torch::Tensor& slopes) {
  const int64_t batch = x.size(0);
  const int64_t length = x.size(1);
  const int64_t width = x.size(2);
  const int64_t head_dim = width / heads_;
  torch::Tensor qkv = qkv_->forward(norm1_->forward(x));  // [B, T, 3 width]
  torch::Tensor a;                                        // [B, T, width]
  if (!prior.defined()) {
    a = FusedAttention(qkv, heads_, attention_, slopes);
  } else {
    std::vector<torch::Tensor> parts = qkv.chunk(3, -1);  // 3 x [B, T, width]
    auto split = [&](const torch::Tensor& t) {
      return t.reshape({batch, length, heads_, head_dim}).transpose(1, 2);
    };  // -> [B, H, T, hd]
    a = Attend(split(parts[0]), split(parts[1]), split(parts[2]), attention_,
               prior);                                      // [B, H, T, hd]
    a = a.transpose(1, 2).reshape({batch, length, width});  // [B, T, width]
  }
  torch::Tensor y = x + out_->forward(a);
  if (!prior.defined()) {
    return y + FusedFeedForward(norm2_->forward(y), ffn1_->Weights(length),
                                ffn2_->Weights(length));
  }
  return y + ffn2_->forward(torch::relu(ffn1_->forward(norm2_->forward(y))));
}

TransformerModel::TransformerModel(const ResolvedSpec& spec)
    : TransformerModel(
          spec, [fused = spec.kernels == KernelPath::kFused](int in, int out) {
            return std::make_shared<SharedLinear>(in, out, fused);
          }) {}

TransformerModel::TransformerModel(const ResolvedSpec& spec,
                                   const TokenMapFactory& make_map)
    : SequenceModel(spec) {
  const int width = spec.sizes.width;
  input_ = register_module("input", InputLookup(spec.vocab, width));
  if (spec.learned_positions) {
    // As GPT-2's: small random values, so that ALiBi and the tokens lead at
    // first and positions are learned where the task needs them.
    positions_ = register_parameter(
        "positions", torch::empty({spec.context_length, width}).normal_(0, 0.02));
  }
  for (int i = 0; i < spec.sizes.layers; ++i) {
    blocks_.push_back(
        register_module("block" + std::to_string(i),
                        std::make_shared<TransformerBlock>(spec, make_map)));
  }
  final_norm_ = register_module(
      "final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  head_ = register_module("head", torch::nn::Linear(width, spec.numbers));
  std::vector<double> slopes = AlibiSlopes(spec.sizes.heads);
  slopes_ = register_buffer("alibi_slopes", torch::tensor(std::vector<float>(
                                                slopes.begin(), slopes.end())));
}

torch::Tensor TransformerModel::Forward(const torch::Tensor& ids,
                                        const torch::Tensor& control_ids) {
  torch::Tensor x = input_->forward(ids, control_ids);  // [B, T, width]
  if (positions_.defined()) x = x + positions_.narrow(0, 0, ids.size(1));
  // The reference path: one prior for all blocks (it depends only on T and
  // the slopes). The fused path reads the slopes and builds no prior.
  torch::Tensor prior;
  if (spec().kernels != KernelPath::kFused || !x.is_cpu()) {
    prior = AttentionPrior(spec().attention, slopes_, ids.size(1));  // [H,T,T]
  }
  for (auto& block : blocks_) x = block->forward(x, prior, slopes_);
  return ApplyLinear(head_, final_norm_->forward(x));  // [B, T, N]
}

}  // namespace switchyard::worker::models
