// Fused causal multi-head attention with ALiBi for tiny heads (the paper's
// models: width 20, 4 heads of width 5, windows of 24 tokens), on the CPU.
//
// The same function as Attend (attention.h), both kinds, with the same
// formulas and kExpressiveEps, computed by one custom autograd function:
// forward and backward are each one pass per (batch, head), parallel over
// batch x heads with at::parallel_for, the window held in small per-thread
// buffers and the inner loops vectorised over the window. No [B, H, T, T]
// tensor is ever built: forward keeps one number per query row (softmax: the
// log-sum-exp; expressive: the row sum + eps) and backward recomputes the
// scores from q and k.
//
// It reads q, k and v straight from the QKV map's output and writes the heads
// already concatenated, so the split/transpose copies of the reference path
// disappear as well.
//
// Contract: CPU tensors only (float or double); the model falls back to the
// reference path on other devices. Backward is not itself differentiable
// (no double backward). Thread-compatible; LibTorch's intra-op threads do
// the parallel work. Bad shapes or devices throw c10::Error.
#ifndef SWITCHYARD_WORKER_MODELS_FUSED_ATTENTION_H_
#define SWITCHYARD_WORKER_MODELS_FUSED_ATTENTION_H_

#include <torch/torch.h>

#include <cstdint>

#include "worker/models/kinds.h"

namespace switchyard::worker::models {

// qkv [B, T, 3 W]: per token [q | k | v], each of width W = heads * head_dim
// with head h in columns h*head_dim .. (h+1)*head_dim - 1 (the layout of the
// QKV map's output). Any strides for B and T; the last dimension is made
// contiguous if it is not. `slopes` [heads]: the ALiBi slopes (all 0: no
// ALiBi). kind: kSoftmax or kExpressive.
// Returns [B, T, W]: the attention outputs of all heads, concatenated, laid
// out position-major when qkv is (the cisformer's maps produce and consume
// [T, B, .] storage), batch-major otherwise.
torch::Tensor FusedAttention(const torch::Tensor& qkv, int64_t heads,
                             AttentionKind kind, const torch::Tensor& slopes);

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_FUSED_ATTENTION_H_
