// Fused feed-forward block for wide hidden layers on few tokens (the paper's
// transformer and cisformer: width 20 -> 2,600 -> 20 on 12,000 tokens per
// step), on the CPU.
//
//   y = relu(x W1[p] + b1[p]) W2[p] + b2[p]   for every token at position p
//
// The reference path (two TokenMaps and a relu) keeps the [tokens, hidden]
// activation of every block for backward (125 MB per block at the paper
// sizes) and streams it through memory some fourteen times per step. Here
// one custom autograd function walks the tokens in chunks of a few hundred:
// forward keeps nothing but its inputs, and backward
// recomputes each chunk's hidden activation and finishes the chunk (both
// weight gradients, the bias gradients, the input gradient) before the next.
// That costs one more matrix product per chunk (7 instead of 6) and saves
// the activations. Chunks run in parallel with at::parallel_for; each
// chunk's products are single-threaded calls of Gemm (cpu_gemm.h: oneDNN's
// sgemm, 2-3x OpenBLAS on these skinny shapes).
//
// Contract: CPU tensors only (float or double; the model takes the reference
// path elsewhere). Backward is not itself differentiable (no double
// backward). Thread-compatible. Bad shapes or devices throw c10::Error.
#ifndef SWITCHYARD_WORKER_MODELS_FUSED_FEED_FORWARD_H_
#define SWITCHYARD_WORKER_MODELS_FUSED_FEED_FORWARD_H_

#include <torch/torch.h>

#include <cstdint>

namespace switchyard::worker::models {

// One per-token affine map as (weight, bias) in "in x out" layout:
// weight [P, in, out], bias [P, out]; P = 1 for a map shared by all
// positions, P = T (the window length) for one map per position.
struct AffineWeights {
  torch::Tensor weight;
  torch::Tensor bias;
};

// x [B, T, in], any strides. first: in -> hidden, second: hidden -> out, both
// with the same P (1 or T). Returns [B, T, out], stored position-major
// ([T, B, out]) when P = T or when x is, batch-major otherwise.
// chunk_rows: tokens per chunk; 0 picks the measured best (512). Results do
// not depend on it beyond the summation order of the weight gradients.
torch::Tensor FusedFeedForward(const torch::Tensor& x,
                               const AffineWeights& first,
                               const AffineWeights& second,
                               int64_t chunk_rows = 0);

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_FUSED_FEED_FORWARD_H_
