// How the fused CPU operations (fused_attention.h, fused_feed_forward.h,
// fused_lstm.h) lay out a [B, T, C] activation: batch-major ([B, T, C]
// storage, the transformer's) or position-major ([T, B, C] storage, the
// cisformer's per-position maps and the LSTM's time steps). One place for
// the three helpers they all need.
#ifndef SWITCHYARD_WORKER_MODELS_TOKEN_LAYOUT_H_
#define SWITCHYARD_WORKER_MODELS_TOKEN_LAYOUT_H_

#include <torch/torch.h>

#include <cstdint>

namespace switchyard::worker::models {

// True when x [B, T, C] is stored position-major (both B and T > 1, so that
// the strides tell).
inline bool IsPositionMajor(const torch::Tensor& x) {
  return x.size(0) > 1 && x.size(1) > 1 && x.stride(0) < x.stride(1);
}

// A new [B, T, C] stored in the given order. empty_strided, not a transposed
// view: an autograd function's output should own its storage.
inline torch::Tensor EmptyTokens(int64_t batch, int64_t length, int64_t channels,
                                 bool position_major,
                                 const torch::TensorOptions& options) {
  if (position_major) {
    return torch::empty_strided({batch, length, channels},
                                {channels, batch * channels, 1}, options);
  }
  return torch::empty({batch, length, channels}, options);
}

// x [B, T, C] as a contiguous [B * T, C] whose rows are in the given order
// (row t * B + b when position-major); a view when x is stored so.
inline torch::Tensor TokenRows(const torch::Tensor& x, bool position_major) {
  const torch::Tensor ordered =
      position_major ? x.transpose(0, 1).contiguous() : x.contiguous();
  return ordered.view({x.size(0) * x.size(1), x.size(2)});
}

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_TOKEN_LAYOUT_H_
