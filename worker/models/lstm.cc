#include "worker/models/lstm.h"

#include <string>
#include <tuple>

#include "worker/models/fused_lstm.h"

namespace switchyard::worker::models {

LstmModel::LstmModel(const ResolvedSpec& spec) : SequenceModel(spec) {
  const ModelSizes& s = spec.sizes;
  input_ = register_module("input", InputLookup(spec.vocab, s.input_width));
  lstm_ = register_module(
      "lstm", torch::nn::LSTM(torch::nn::LSTMOptions(s.input_width, s.width)
                                  .num_layers(s.layers)
                                  .batch_first(true)));
  head_ = register_module("head", torch::nn::Linear(s.width, spec.numbers));
}

torch::Tensor LstmModel::Forward(const torch::Tensor& ids,
                                 const torch::Tensor& control_ids) {
  torch::Tensor x = input_->forward(ids, control_ids);  // [B, T, input_width]
  torch::Tensor h;                                      // [B, T, width]
  if (UseFused(x)) {
    // The same parameters as lstm_, one fused layer at a time.
    auto p = lstm_->named_parameters(/*recurse=*/false);
    h = x;
    for (int k = 0; k < spec().sizes.layers; ++k) {
      const std::string l = "_l" + std::to_string(k);
      h = FusedLstmLayer(h, p["weight_ih" + l], p["weight_hh" + l],
                         p["bias_ih" + l], p["bias_hh" + l]);
    }
  } else {
    h = std::get<0>(lstm_->forward(x));
  }
  return ApplyLinear(head_, h);                         // [B, T, N]
}

}  // namespace switchyard::worker::models
