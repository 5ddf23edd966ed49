// One LSTM layer over a whole window as one custom autograd function, on the
// CPU: the same function as a layer of torch::nn::LSTM (gates i, f, g, o in
// that order, zero initial state, batch-first input) with its products
// through Gemm (cpu_gemm.h: oneDNN) and the gate arithmetic of a time step
// fused into one pass over the batch, forward and backward. ATen's LSTM
// runs some ten elementwise passes per step forward and more backward, each
// an autograd node; here a step is one product and one pass.
//
// Forward keeps the activated gates, the cell states and the outputs of
// every step ([T, B, 4H] + 2 x [T, B, H]); backward walks the steps in
// reverse with one product per step for the recurrent gradient and folds
// the weight gradients into two products over all steps.
//
// Contract: CPU tensors only (float or double); the model takes
// torch::nn::LSTM elsewhere. Backward is not itself differentiable.
// Thread-compatible. Bad shapes or devices throw c10::Error.
#ifndef SWITCHYARD_WORKER_MODELS_FUSED_LSTM_H_
#define SWITCHYARD_WORKER_MODELS_FUSED_LSTM_H_

#include <torch/torch.h>

namespace switchyard::worker::models {

// x [B, T, in], any strides; w_ih [4H, in], w_hh [4H, H], b_ih and b_hh
// [4H] (torch::nn::LSTM's parameters of one layer). Returns the hidden
// state of every step, [B, T, H], stored time-major ([T, B, H]).
torch::Tensor FusedLstmLayer(const torch::Tensor& x, const torch::Tensor& w_ih,
                             const torch::Tensor& w_hh,
                             const torch::Tensor& b_ih,
                             const torch::Tensor& b_hh);

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_FUSED_LSTM_H_
