// The LSTM: an input lookup (d -> input_width, the first weight matrix used as
// a table), a stacked torch::nn::LSTM (batch-first, hidden `width`), and a
// linear read-out at every step. Causal by construction. Sizes:
// docs/models.md.
#ifndef SWITCHYARD_WORKER_MODELS_LSTM_H_
#define SWITCHYARD_WORKER_MODELS_LSTM_H_

#include <torch/torch.h>

#include "worker/models/embedding.h"
#include "worker/models/model.h"

namespace switchyard::worker::models {

class LstmModel : public SequenceModel {
 public:
  explicit LstmModel(const ResolvedSpec& spec);
  torch::Tensor Forward(const torch::Tensor& ids,
                        const torch::Tensor& control_ids) override;

 private:
  InputLookup input_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::Linear head_{nullptr};
};

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_LSTM_H_
