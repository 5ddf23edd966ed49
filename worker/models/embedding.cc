#include "worker/models/embedding.h"

#include <cmath>

namespace switchyard::worker::models {

InputLookupImpl::InputLookupImpl(int vocab, int width) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(vocab));
  weight_ = register_parameter(
      "weight", torch::empty({vocab, width}).uniform_(-bound, bound));
  bias_ =
      register_parameter("bias", torch::empty({width}).uniform_(-bound, bound));
}

torch::Tensor InputLookupImpl::forward(const torch::Tensor& ids,
                                       const torch::Tensor& control_ids) {
  torch::Tensor x = torch::embedding(weight_, ids) + bias_;  // [B, T, width]
  if (control_ids.defined()) x = AddControlRows(x, weight_, control_ids);
  return x;
}

torch::Tensor AddControlRows(const torch::Tensor& x,
                             const torch::Tensor& weight,
                             const torch::Tensor& control_ids) {
  // Gather with a clamped index, then zero the rows of positions without a
  // control token: keeps the op batched and its gradient exact.
  torch::Tensor present = control_ids.ge(0);  // [B, T]
  torch::Tensor rows = torch::embedding(weight, control_ids.clamp_min(0));
  return x + rows * present.unsqueeze(-1).to(rows.scalar_type());
}

}  // namespace switchyard::worker::models
