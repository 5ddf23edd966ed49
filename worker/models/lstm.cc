#include "worker/models/lstm.h"

#include <tuple>

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
  torch::Tensor h = std::get<0>(lstm_->forward(x));     // [B, T, width]
  return ApplyLinear(head_, h);                         // [B, T, N]
}

}  // namespace switchyard::worker::models
