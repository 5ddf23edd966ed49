#include "worker/models/mlp.h"

#include <cmath>
#include <string>

namespace switchyard::worker::models {
namespace {

namespace F = torch::nn::functional;

// [B, T] -> [B, T, window]: entry k of position t holds the id at t - (window
// - 1 - k), i.e. the window ending at t, oldest first; `pad` before 0.
torch::Tensor SlidingWindows(const torch::Tensor& ids, int64_t window,
                             int64_t pad) {
  torch::Tensor padded = F::pad(
      ids, F::PadFuncOptions({window - 1, 0}).value(pad));  // [B, T + w - 1]
  return padded.unfold(1, window, 1);                       // [B, T, window]
}

}  // namespace

MlpModel::MlpModel(const ResolvedSpec& spec) : SequenceModel(spec) {
  const int window = spec.context_length;
  const int fan_in = window * spec.vocab;
  const int width = spec.sizes.width;
  // Like torch::nn::Linear(fan_in, width), whose weight this matrix is.
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  input_weight_ = register_parameter(
      "input_weight", torch::empty({fan_in, width}).uniform_(-bound, bound));
  input_bias_ = register_parameter(
      "input_bias", torch::empty({width}).uniform_(-bound, bound));
  for (int i = 1; i < spec.sizes.layers; ++i) {
    hidden_.push_back(register_module("hidden" + std::to_string(i),
                                      torch::nn::Linear(width, width)));
  }
  head_ = register_module("head", torch::nn::Linear(width, spec.numbers));
}

torch::Tensor MlpModel::Forward(const torch::Tensor& ids,
                                const torch::Tensor& control_ids) {
  const int64_t batch = ids.size(0);
  const int64_t length = ids.size(1);
  const int64_t window = spec().context_length;
  const int64_t vocab = spec().vocab;
  // Row of W_in for slot k of a window: lag (window - 1 - k) times vocab + id.
  torch::Tensor lag_base =
      (window - 1 - torch::arange(window, ids.options())) * vocab;  // [w]
  // Padding uses -1 so that padded slots are recognised and weighted 0.
  torch::Tensor windows = SlidingWindows(ids, window, -1);  // [B, T, w]
  torch::Tensor slots = windows;
  if (control_ids.defined()) {
    // Two-hot: the control slots use the same (lag, id) rows.
    slots = torch::cat({windows, SlidingWindows(control_ids, window, -1)}, -1);
    lag_base = torch::cat({lag_base, lag_base});
  }
  torch::Tensor present = slots.ge(0);                 // [B, T, s]
  torch::Tensor rows = slots.clamp_min(0) + lag_base;  // [B, T, s]
  torch::Tensor weights = present.to(input_weight_.scalar_type());
  const int64_t slot_count = rows.size(-1);
  torch::Tensor x = F::embedding_bag(
      rows.reshape({batch * length, slot_count}), input_weight_,
      F::EmbeddingBagFuncOptions()
          .mode(torch::kSum)
          .per_sample_weights(
              weights.reshape({batch * length, slot_count})));  // [B*T, width]
  x = torch::relu(x + input_bias_);
  for (auto& layer : hidden_) x = x + torch::relu(ApplyLinear(layer, x));
  return ApplyLinear(head_, x).view({batch, length, -1});  // [B, T, N]
}

}  // namespace switchyard::worker::models
