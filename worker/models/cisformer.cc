#include "worker/models/cisformer.h"

#include <cmath>

namespace switchyard::worker::models {

PositionwiseLinear::PositionwiseLinear(int positions, int in, int out) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight_ = register_parameter(
      "weight", torch::empty({positions, in, out}).uniform_(-bound, bound));
  bias_ = register_parameter(
      "bias", torch::empty({positions, out}).uniform_(-bound, bound));
}

torch::Tensor PositionwiseLinear::forward(const torch::Tensor& x) {
  const int64_t length = x.size(1);
  // Position-major so the product is one bmm over T:
  // [T, B, in] x [T, in, out] + [T, 1, out] -> [T, B, out].
  torch::Tensor y =
      torch::baddbmm(bias_.narrow(0, 0, length).unsqueeze(1), x.transpose(0, 1),
                     weight_.narrow(0, 0, length));
  return y.transpose(0, 1);  // [B, T, out] (a view; elementwise ops keep it)
}

AffineWeights PositionwiseLinear::Weights(int64_t length) const {
  return {weight_.narrow(0, 0, length), bias_.narrow(0, 0, length)};
}

CisformerModel::CisformerModel(const ResolvedSpec& spec)
    : TransformerModel(
          spec, [positions = spec.context_length](int in, int out) {
            return std::make_shared<PositionwiseLinear>(positions, in, out);
          }) {}

}  // namespace switchyard::worker::models
