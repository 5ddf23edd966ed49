#include "worker/models/fused_lstm.h"

#include <ATen/Parallel.h>

#include <cstdint>

#include "worker/models/cpu_gemm.h"
#include "worker/models/token_layout.h"
#include "worker/models/vec_math.h"

namespace switchyard::worker::models {
namespace {

constexpr int64_t kGrain = 16;  // batch rows per task at least

// The gate loops of one batch row, with every pointer __restrict and the
// "is there a previous cell state" test outside the loop, so that GCC
// vectorises them (with either missing, the loops ran scalar).
template <typename S, bool kHasPrevious>
inline void RowForward(int64_t hidden, S* __restrict i, S* __restrict f,
                       S* __restrict g, S* __restrict o,
                       const S* __restrict c_prev, S* __restrict c,
                       S* __restrict h) {
  for (int64_t j = 0; j < hidden; ++j) {
    const S ij = VecSigmoid(i[j]);
    const S fj = VecSigmoid(f[j]);
    const S gj = VecTanh(g[j]);
    const S oj = VecSigmoid(o[j]);
    i[j] = ij;
    f[j] = fj;
    g[j] = gj;
    o[j] = oj;
    const S cj = kHasPrevious ? fj * c_prev[j] + ij * gj : ij * gj;
    c[j] = cj;
    h[j] = oj * VecTanh(cj);
  }
}

template <typename S, bool kHasPrevious>
inline void RowBackward(int64_t hidden, const S* __restrict i,
                        const S* __restrict f, const S* __restrict g,
                        const S* __restrict o, const S* __restrict c_prev,
                        const S* __restrict c, const S* __restrict gh,
                        const S* __restrict dh_next, S* __restrict dc_next,
                        S* __restrict di, S* __restrict df, S* __restrict dg,
                        S* __restrict dout) {
  for (int64_t j = 0; j < hidden; ++j) {
    const S dh = gh[j] + dh_next[j];
    const S tc = VecTanh(c[j]);
    const S dc = dc_next[j] + dh * o[j] * (S(1) - tc * tc);
    di[j] = dc * g[j] * i[j] * (S(1) - i[j]);
    df[j] = kHasPrevious ? dc * c_prev[j] * f[j] * (S(1) - f[j]) : S(0);
    dg[j] = dc * i[j] * (S(1) - g[j] * g[j]);
    dout[j] = dh * tc * o[j] * (S(1) - o[j]);
    dc_next[j] = dc * f[j];
  }
}

// One step forward for batch rows [begin, end): `gates` holds the
// pre-activations [B, 4H] on entry and the activated gates on exit; c_prev
// may be null (zero state).
template <typename S>
void CellForward(int64_t hidden, int64_t begin, int64_t end, S* gates,
                 const S* c_prev, S* c, S* h) {
  for (int64_t b = begin; b < end; ++b) {
    S* i = gates + b * 4 * hidden;
    S* cb = c + b * hidden;
    S* hb = h + b * hidden;
    if (c_prev == nullptr) {
      RowForward<S, false>(hidden, i, i + hidden, i + 2 * hidden,
                           i + 3 * hidden, nullptr, cb, hb);
    } else {
      RowForward<S, true>(hidden, i, i + hidden, i + 2 * hidden,
                          i + 3 * hidden, c_prev + b * hidden, cb, hb);
    }
  }
}

// One step backward for rows [begin, end). gh: the gradient reaching h_t
// from above (the layer's output); dh_next: the one from step t + 1;
// dc_next: the cell gradient from step t + 1, replaced by the one for
// step t - 1. Writes the pre-activation gradients to dgates [B, 4H].
template <typename S>
void CellBackward(int64_t hidden, int64_t begin, int64_t end, const S* gates,
                  const S* c_prev, const S* c, const S* gh, const S* dh_next,
                  S* dc_next, S* dgates) {
  for (int64_t b = begin; b < end; ++b) {
    const S* i = gates + b * 4 * hidden;
    S* d = dgates + b * 4 * hidden;
    const int64_t r = b * hidden;
    if (c_prev == nullptr) {
      RowBackward<S, false>(hidden, i, i + hidden, i + 2 * hidden,
                            i + 3 * hidden, nullptr, c + r, gh + r,
                            dh_next + r, dc_next + r, d, d + hidden,
                            d + 2 * hidden, d + 3 * hidden);
    } else {
      RowBackward<S, true>(hidden, i, i + hidden, i + 2 * hidden,
                           i + 3 * hidden, c_prev + r, c + r, gh + r,
                           dh_next + r, dc_next + r, d, d + hidden,
                           d + 2 * hidden, d + 3 * hidden);
    }
  }
}

SWITCHYARD_KERNEL void CellForwardFloat(int64_t hidden, int64_t begin,
                                        int64_t end, float* gates,
                                        const float* c_prev, float* c,
                                        float* h) {
  CellForward<float>(hidden, begin, end, gates, c_prev, c, h);
}

SWITCHYARD_KERNEL void CellBackwardFloat(int64_t hidden, int64_t begin,
                                         int64_t end, const float* gates,
                                         const float* c_prev, const float* c,
                                         const float* gh, const float* dh_next,
                                         float* dc_next, float* dgates) {
  CellBackward<float>(hidden, begin, end, gates, c_prev, c, gh, dh_next,
                      dc_next, dgates);
}

void CellForwardAny(int64_t hidden, int64_t begin, int64_t end, float* gates,
                    const float* c_prev, float* c, float* h) {
  CellForwardFloat(hidden, begin, end, gates, c_prev, c, h);
}
void CellForwardAny(int64_t hidden, int64_t begin, int64_t end, double* gates,
                    const double* c_prev, double* c, double* h) {
  CellForward<double>(hidden, begin, end, gates, c_prev, c, h);
}
void CellBackwardAny(int64_t hidden, int64_t begin, int64_t end,
                     const float* gates, const float* c_prev, const float* c,
                     const float* gh, const float* dh_next, float* dc_next,
                     float* dgates) {
  CellBackwardFloat(hidden, begin, end, gates, c_prev, c, gh, dh_next, dc_next,
                    dgates);
}
void CellBackwardAny(int64_t hidden, int64_t begin, int64_t end,
                     const double* gates, const double* c_prev,
                     const double* c, const double* gh, const double* dh_next,
                     double* dc_next, double* dgates) {
  CellBackward<double>(hidden, begin, end, gates, c_prev, c, gh, dh_next,
                       dc_next, dgates);
}

class FusedLstmFunction : public torch::autograd::Function<FusedLstmFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& x,
                               const torch::Tensor& w_ih,
                               const torch::Tensor& w_hh,
                               const torch::Tensor& b_ih,
                               const torch::Tensor& b_hh) {
    torch::NoGradGuard no_grad;
    const int64_t batch = x.size(0);
    const int64_t length = x.size(1);
    const int64_t hidden = w_hh.size(1);
    const torch::Tensor rows = TokenRows(x, /*position_major=*/true);  // [T*B, in]
    // All input projections at once: gates[t] starts as x_t W_ih^T + b.
    torch::Tensor gates =
        (b_ih + b_hh).expand({length * batch, 4 * hidden}).contiguous();
    Gemm(rows, w_ih.t(), gates, 1, 1);
    gates = gates.view({length, batch, 4 * hidden});
    torch::Tensor c = torch::empty({length, batch, hidden}, x.options());
    // The output [B, T, H] owns time-major storage; h is its [T, B, H] view.
    torch::Tensor out =
        EmptyTokens(batch, length, hidden, /*position_major=*/true, x.options());
    torch::Tensor h = out.transpose(0, 1);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "FusedLstm", [&] {
      for (int64_t t = 0; t < length; ++t) {
        if (t > 0) Gemm(h[t - 1], w_hh.t(), gates[t], 1, 1);
        scalar_t* g = gates[t].data_ptr<scalar_t>();
        const scalar_t* cp = t > 0 ? c[t - 1].data_ptr<scalar_t>() : nullptr;
        scalar_t* ct = c[t].data_ptr<scalar_t>();
        scalar_t* ht = h[t].data_ptr<scalar_t>();
        at::parallel_for(0, batch, kGrain, [&](int64_t begin, int64_t end) {
          CellForwardAny(hidden, begin, end, g, cp, ct, ht);
        });
      }
    });
    ctx->save_for_backward({rows, w_ih, w_hh, gates, c, out});
    return out;
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::tensor_list grad_outputs) {
    torch::NoGradGuard no_grad;
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& rows = saved[0];
    const torch::Tensor& w_ih = saved[1];
    const torch::Tensor& w_hh = saved[2];
    const torch::Tensor& gates = saved[3];
    const torch::Tensor& c = saved[4];
    const torch::Tensor h = saved[5].transpose(0, 1);  // [T, B, H]
    const int64_t length = gates.size(0);
    const int64_t batch = gates.size(1);
    const int64_t hidden = w_hh.size(1);
    const torch::Tensor gh =
        grad_outputs[0].transpose(0, 1).contiguous();  // [T, B, H]
    torch::Tensor dgates = torch::empty_like(gates);   // [T, B, 4H]
    torch::Tensor dh_next = torch::zeros({batch, hidden}, gates.options());
    torch::Tensor dc_next = torch::zeros({batch, hidden}, gates.options());
    AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "FusedLstmBackward", [&] {
      for (int64_t t = length - 1; t >= 0; --t) {
        const scalar_t* g = gates[t].data_ptr<scalar_t>();
        const scalar_t* cp = t > 0 ? c[t - 1].data_ptr<scalar_t>() : nullptr;
        const scalar_t* ct = c[t].data_ptr<scalar_t>();
        const scalar_t* ght = gh[t].data_ptr<scalar_t>();
        const scalar_t* dhn = dh_next.data_ptr<scalar_t>();
        scalar_t* dcn = dc_next.data_ptr<scalar_t>();
        scalar_t* dg = dgates[t].data_ptr<scalar_t>();
        at::parallel_for(0, batch, kGrain, [&](int64_t begin, int64_t end) {
          CellBackwardAny(hidden, begin, end, g, cp, ct, ght, dhn, dcn, dg);
        });
        if (t > 0) Gemm(dgates[t], w_hh, dh_next);
      }
    });
    const torch::Tensor all = dgates.view({length * batch, 4 * hidden});
    torch::Tensor grad_w_ih = torch::empty_like(w_ih);
    Gemm(all.t(), rows, grad_w_ih);
    // The recurrent weights see h_{t-1} for t >= 1: one product over steps.
    torch::Tensor grad_w_hh = torch::zeros_like(w_hh);
    if (length > 1) {
      Gemm(dgates.narrow(0, 1, length - 1)
               .view({(length - 1) * batch, 4 * hidden})
               .t(),
           h.narrow(0, 0, length - 1).view({(length - 1) * batch, hidden}),
           grad_w_hh);
    }
    const torch::Tensor grad_b = all.sum(0);
    torch::Tensor grad_rows = torch::empty_like(rows);  // [T * B, in]
    Gemm(all, w_ih, grad_rows);
    const torch::Tensor grad_x =
        grad_rows.view({length, batch, rows.size(1)}).transpose(0, 1);
    // Two tensors: each bias's gradient may become its .grad in place.
    return {grad_x, grad_w_ih, grad_w_hh, grad_b, grad_b.clone()};
  }
};

}  // namespace

torch::Tensor FusedLstmLayer(const torch::Tensor& x, const torch::Tensor& w_ih,
                             const torch::Tensor& w_hh,
                             const torch::Tensor& b_ih,
                             const torch::Tensor& b_hh) {
  TORCH_CHECK(x.device().is_cpu(), "FusedLstmLayer: CPU tensors only, got ",
              x.device());
  TORCH_CHECK(x.dim() == 3, "FusedLstmLayer: x must be [B, T, in], got ",
              x.sizes());
  TORCH_CHECK(w_hh.dim() == 2 && w_hh.size(0) == 4 * w_hh.size(1) &&
                  w_ih.dim() == 2 && w_ih.size(0) == w_hh.size(0) &&
                  w_ih.size(1) == x.size(2) && b_ih.dim() == 1 &&
                  b_ih.size(0) == w_hh.size(0) && b_hh.sizes() == b_ih.sizes(),
              "FusedLstmLayer: x ", x.sizes(), ", w_ih ", w_ih.sizes(),
              ", w_hh ", w_hh.sizes(), ", b_ih ", b_ih.sizes(), ", b_hh ",
              b_hh.sizes(), " do not form an LSTM layer");
  return FusedLstmFunction::apply(x, w_ih, w_hh, b_ih, b_hh);
}

}  // namespace switchyard::worker::models
