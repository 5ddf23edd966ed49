// The first layer shared by all families: a one-hot input of width d times a
// weight matrix W_in [d, width], computed as a row lookup so the one-hot
// vectors never exist. Layout "attached" adds the row of the control token a
// position carries (a two-hot input).
//
// Threads and errors as for SequenceModel (model.h).
#ifndef SWITCHYARD_WORKER_MODELS_EMBEDDING_H_
#define SWITCHYARD_WORKER_MODELS_EMBEDDING_H_

#include <torch/torch.h>

namespace switchyard::worker::models {

class InputLookupImpl : public torch::nn::Module {
 public:
  // W_in and the bias are initialised like torch::nn::Linear(vocab, width):
  // uniform in +-1/sqrt(vocab), since a one-hot row has fan-in `vocab`.
  InputLookupImpl(int vocab, int width);

  // ids [B, T] int64; control_ids undefined or [B, T] int64 (-1 = none).
  // Returns x [B, T, width] = W_in[ids] (+ W_in[control]) + bias.
  torch::Tensor forward(const torch::Tensor& ids,
                        const torch::Tensor& control_ids);

 private:
  torch::Tensor weight_;  // [vocab, width]
  torch::Tensor bias_;    // [width]
};
TORCH_MODULE(InputLookup);

// Adds the rows of `weight` selected by control ids >= 0 to x; ids < 0 add
// nothing. x [B, T, width], control_ids [B, T]. Shared with the MLP, whose
// first matrix is indexed by (lag, id).
torch::Tensor AddControlRows(const torch::Tensor& x,
                             const torch::Tensor& weight,
                             const torch::Tensor& control_ids);

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_EMBEDDING_H_
