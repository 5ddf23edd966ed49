// The causal MLP: one translation-invariant MLP applied at every position t
// to the window of the last Nc tokens ending at t (left-padded with "no
// token" before the window starts), so the prediction at t sees only inputs
// 0..t. The first matrix W_in [Nc * d, width] is indexed by (lag, token id)
// and used as a lookup (an embedding bag), never multiplied by a one-hot.
// Hidden layers are residual (x + relu(W x + b)) so that 16 of them train
// with Adam from the default initialisation. Sizes: docs/models.md.
#ifndef SWITCHYARD_WORKER_MODELS_MLP_H_
#define SWITCHYARD_WORKER_MODELS_MLP_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/model.h"

namespace switchyard::worker::models {

class MlpModel : public SequenceModel {
 public:
  explicit MlpModel(const ResolvedSpec& spec);
  torch::Tensor Forward(const torch::Tensor& ids,
                        const torch::Tensor& control_ids) override;

 private:
  torch::Tensor input_weight_;             // [Nc * d, width], row lag * d + id
  torch::Tensor input_bias_;               // [width]
  std::vector<torch::nn::Linear> hidden_;  // layers - 1 of [width, width]
  torch::nn::Linear head_{nullptr};        // [width] -> [numbers]
};

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_MLP_H_
