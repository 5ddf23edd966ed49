#include "worker/models/fused_attention.h"

#include <ATen/Parallel.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "worker/models/attention.h"
#include "worker/models/token_layout.h"
#include "worker/models/vec_math.h"

namespace switchyard::worker::models {
namespace {

// Where the tensors of one call live. Strides are in elements; the last
// dimension of every tensor is contiguous.
struct Layout {
  int64_t batch = 0;
  int64_t length = 0;  // T
  int64_t heads = 0;
  int64_t head_dim = 0;     // D
  int64_t width = 0;        // W = heads * D
  int64_t qkv_sb = 0;       // qkv (and its gradient): batch stride
  int64_t qkv_st = 0;       //   position stride
  int64_t out_sb = 0;       // out: batch stride
  int64_t out_st = 0;       //   position stride
  int64_t grad_out_sb = 0;  // gradient of out (backward only)
  int64_t grad_out_st = 0;
};


// y[0..n) += a * x[0..n)
template <typename S>
inline void Axpy(int64_t n, S a, const S* __restrict x, S* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

template <typename S>
inline void Zero(int64_t n, S* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] = S(0);
}

// Scratch for one thread: every buffer is at most T x T.
template <typename S>
struct Scratch {
  explicit Scratch(const Layout& l)
      : data(static_cast<size_t>(l.length * l.length +
                                 8 * l.head_dim * l.length + 6 * l.length)) {}
  std::vector<S> data;
};

// Forward of heads [begin, end) (index b * heads + h). Column layout: the
// scores of key j for all queries i >= j are contiguous (zt[j * T + i]), so
// the row statistics (max, sum) and the output are loops over i that
// vectorise.
//   softmax:    a_ij = exp(z_ij + prior_h(i - j) - max_i) / sum_i,
//               stat_i = max_i + log(sum_i)          (the log-sum-exp)
//   expressive: u_ij = z_ij^2 / (1 + z_ij^2) * prior_h(i - j),
//               stat_i = sum_j u_ij + eps, a_ij = u_ij / stat_i
// where prior_h(d) is -m_h d (softmax) or exp(-m_h d) (expressive).
template <typename S>
void ForwardHeads(const Layout& l, bool softmax, const S* prior, const S* qkv,
                  S* out, S* stat, S* scratch, int64_t begin, int64_t end) {
  const int64_t T = l.length;
  const int64_t D = l.head_dim;
  const int64_t W = l.width;
  // The reference scales q before the product; so does this.
  const S scale = static_cast<S>(1.0 / std::sqrt(static_cast<double>(D)));
  S* zt = scratch;      // [T][T], column j at zt + j * T
  S* qs = zt + T * T;   // [D][T] scaled q, transposed
  S* kr = qs + D * T;   // [T][D]
  S* vr = kr + D * T;   // [T][D]
  S* ot = vr + D * T;   // [D][T] output, transposed
  S* top = ot + D * T;  // [T] row maximum (softmax)
  S* sum = top + T;     // [T] row sum
  for (int64_t bh = begin; bh < end; ++bh) {
    const int64_t b = bh / l.heads;
    const int64_t h = bh % l.heads;
    const S* in = qkv + b * l.qkv_sb + h * D;
    for (int64_t i = 0; i < T; ++i) {
      const S* row = in + i * l.qkv_st;
      for (int64_t d = 0; d < D; ++d) {
        qs[d * T + i] = row[d] * scale;
        kr[i * D + d] = row[W + d];
        vr[i * D + d] = row[2 * W + d];
      }
    }
    const S* p = prior + h * T;  // p[i - j]
    for (int64_t j = 0; j < T; ++j) {
      S* col = zt + j * T + j;  // rows i = j .. T-1
      const int64_t n = T - j;
      Zero(n, col);
      for (int64_t d = 0; d < D; ++d)
        Axpy(n, kr[j * D + d], qs + d * T + j, col);
    }
    Zero(T, sum);
    if (softmax) {
      for (int64_t i = 0; i < T; ++i)
        top[i] = -std::numeric_limits<S>::infinity();
      for (int64_t j = 0; j < T; ++j) {
        S* __restrict col = zt + j * T + j;
        S* __restrict m = top + j;
        for (int64_t k = 0; k < T - j; ++k) {
          const S s = col[k] + p[k];
          col[k] = s;
          m[k] = m[k] < s ? s : m[k];
        }
      }
      for (int64_t j = 0; j < T; ++j) {
        S* __restrict col = zt + j * T + j;
        const S* __restrict m = top + j;
        S* __restrict s = sum + j;
        for (int64_t k = 0; k < T - j; ++k) {
          const S e = VecExp(col[k] - m[k]);
          col[k] = e;
          s[k] += e;
        }
      }
      for (int64_t i = 0; i < T; ++i) {
        stat[bh * T + i] = top[i] + std::log(sum[i]);
      }
    } else {
      for (int64_t j = 0; j < T; ++j) {
        S* __restrict col = zt + j * T + j;
        S* __restrict s = sum + j;
        for (int64_t k = 0; k < T - j; ++k) {
          const S zz = col[k] * col[k];
          const S u = zz / (zz + S(1)) * p[k];
          col[k] = u;
          s[k] += u;
        }
      }
      for (int64_t i = 0; i < T; ++i) {
        sum[i] += static_cast<S>(kExpressiveEps);
        stat[bh * T + i] = sum[i];
      }
    }
    Zero(D * T, ot);
    for (int64_t j = 0; j < T; ++j) {
      S* __restrict col = zt + j * T + j;
      const S* __restrict s = sum + j;
      for (int64_t k = 0; k < T - j; ++k) col[k] /= s[k];
      for (int64_t d = 0; d < D; ++d) {
        Axpy(T - j, vr[j * D + d], col, ot + d * T + j);
      }
    }
    S* o = out + b * l.out_sb + h * D;
    for (int64_t i = 0; i < T; ++i) {
      for (int64_t d = 0; d < D; ++d) o[i * l.out_st + d] = ot[d * T + i];
    }
  }
}

// Backward of heads [begin, end). Row layout: query i at a time, keys j <= i
// contiguous, with the saved row statistic instead of a row reduction.
//   g_ij = dO_i . v_j,  delta_i = dO_i . O_i (= sum_j a_ij g_ij)
//   softmax:    dz_ij = a_ij (g_ij - delta_i)
//   expressive: dz_ij = (g_ij - delta_i) / stat_i * prior * 2 z / (1 + z^2)^2
//   dv_j += a_ij dO_i,  dk_j += dz_ij q_i scale,  dq_i = scale sum_j dz_ij k_j
// dq needs a reduction over j, so dz is also stored by column (dzt) and dq
// is summed afterwards as loops over i.
template <typename S>
void BackwardHeads(const Layout& l, bool softmax, const S* reversed_prior,
                   const S* qkv, const S* out, const S* grad_out, const S* stat,
                   S* grad_qkv, S* scratch, int64_t begin, int64_t end) {
  const int64_t T = l.length;
  const int64_t D = l.head_dim;
  const int64_t W = l.width;
  const S scale = static_cast<S>(1.0 / std::sqrt(static_cast<double>(D)));
  S* dzt = scratch;      // [T][T], column j at dzt + j * T
  S* qs = dzt + T * T;   // [T][D] scaled q
  S* go = qs + D * T;    // [T][D] gradient of the output
  S* kr = go + D * T;    // [T][D]
  S* kt = kr + D * T;    // [D][T]
  S* vt = kt + D * T;    // [D][T]
  S* dkt = vt + D * T;   // [D][T]
  S* dvt = dkt + D * T;  // [D][T]
  S* dqt = dvt + D * T;  // [D][T]
  S* z = dqt + D * T;    // [T] scores of one row
  S* g = z + T;          // [T]
  S* a = g + T;          // [T]
  S* dz = a + T;         // [T]
  S* delta = dz + T;     // [T]
  for (int64_t bh = begin; bh < end; ++bh) {
    const int64_t b = bh / l.heads;
    const int64_t h = bh % l.heads;
    const S* in = qkv + b * l.qkv_sb + h * D;
    const S* o = out + b * l.out_sb + h * D;
    const S* gin = grad_out + b * l.grad_out_sb + h * D;
    for (int64_t i = 0; i < T; ++i) {
      const S* row = in + i * l.qkv_st;
      S dot = 0;
      for (int64_t d = 0; d < D; ++d) {
        qs[i * D + d] = row[d] * scale;
        kr[i * D + d] = row[W + d];
        kt[d * T + i] = row[W + d];
        vt[d * T + i] = row[2 * W + d];
        const S gd = gin[i * l.grad_out_st + d];
        go[i * D + d] = gd;
        dot += gd * o[i * l.out_st + d];
      }
      delta[i] = dot;
    }
    Zero(D * T, dkt);
    Zero(D * T, dvt);
    const S* rp = reversed_prior + h * T;
    for (int64_t i = 0; i < T; ++i) {
      const int64_t n = i + 1;                   // keys 0 .. i
      const S* __restrict p = rp + (T - 1 - i);  // p[j] = prior(i - j)
      Zero(n, z);
      Zero(n, g);
      for (int64_t d = 0; d < D; ++d) {
        Axpy(n, qs[i * D + d], kt + d * T, z);
        Axpy(n, go[i * D + d], vt + d * T, g);
      }
      const S s = stat[bh * T + i];
      const S dl = delta[i];
      if (softmax) {
        for (int64_t j = 0; j < n; ++j) {
          const S aj = VecExp(z[j] + p[j] - s);
          a[j] = aj;
          dz[j] = aj * (g[j] - dl);
        }
      } else {
        for (int64_t j = 0; j < n; ++j) {
          const S zz = z[j] * z[j];
          const S den = zz + S(1);
          a[j] = zz / den * p[j] / s;
          dz[j] = (g[j] - dl) / s * p[j] * (S(2) * z[j]) / (den * den);
        }
      }
      for (int64_t d = 0; d < D; ++d) {
        Axpy(n, go[i * D + d], a, dvt + d * T);
        Axpy(n, qs[i * D + d], dz, dkt + d * T);
      }
      for (int64_t j = 0; j < n; ++j) dzt[j * T + i] = dz[j];
    }
    Zero(D * T, dqt);
    for (int64_t j = 0; j < T; ++j) {
      for (int64_t d = 0; d < D; ++d) {
        Axpy(T - j, kr[j * D + d], dzt + j * T + j, dqt + d * T + j);
      }
    }
    S* gq = grad_qkv + b * l.qkv_sb + h * D;
    for (int64_t i = 0; i < T; ++i) {
      S* row = gq + i * l.qkv_st;
      for (int64_t d = 0; d < D; ++d) {
        row[d] = dqt[d * T + i] * scale;
        row[W + d] = dkt[d * T + i];
        row[2 * W + d] = dvt[d * T + i];
      }
    }
  }
}


SWITCHYARD_KERNEL void ForwardFloat(const Layout& l, bool softmax,
                                    const float* prior, const float* qkv,
                                    float* out, float* stat, float* scratch,
                                    int64_t begin, int64_t end) {
  ForwardHeads<float>(l, softmax, prior, qkv, out, stat, scratch, begin, end);
}

SWITCHYARD_KERNEL void BackwardFloat(const Layout& l, bool softmax,
                                     const float* prior, const float* qkv,
                                     const float* out, const float* grad_out,
                                     const float* stat, float* grad_qkv,
                                     float* scratch, int64_t begin,
                                     int64_t end) {
  BackwardHeads<float>(l, softmax, prior, qkv, out, grad_out, stat, grad_qkv,
                       scratch, begin, end);
}

void Forward(const Layout& l, bool softmax, const float* prior,
             const float* qkv, float* out, float* stat, float* scratch,
             int64_t begin, int64_t end) {
  ForwardFloat(l, softmax, prior, qkv, out, stat, scratch, begin, end);
}

void Forward(const Layout& l, bool softmax, const double* prior,
             const double* qkv, double* out, double* stat, double* scratch,
             int64_t begin, int64_t end) {
  ForwardHeads<double>(l, softmax, prior, qkv, out, stat, scratch, begin, end);
}

void Backward(const Layout& l, bool softmax, const float* prior,
              const float* qkv, const float* out, const float* grad_out,
              const float* stat, float* grad_qkv, float* scratch, int64_t begin,
              int64_t end) {
  BackwardFloat(l, softmax, prior, qkv, out, grad_out, stat, grad_qkv, scratch,
                begin, end);
}

void Backward(const Layout& l, bool softmax, const double* prior,
              const double* qkv, const double* out, const double* grad_out,
              const double* stat, double* grad_qkv, double* scratch,
              int64_t begin, int64_t end) {
  BackwardHeads<double>(l, softmax, prior, qkv, out, grad_out, stat, grad_qkv,
                        scratch, begin, end);
}

// prior_h(d) for d = 0 .. T-1, per head: [H][T]; `reversed` stores each
// head's row back to front ([h][k] = prior_h(T - 1 - k)) for the backward's
// row layout. Same values as AttentionPrior: -m d in the tensor's type
// (softmax), exp(-m d) (expressive).
template <typename S>
std::vector<S> PriorTable(const torch::Tensor& slopes, bool softmax,
                          int64_t length, bool reversed) {
  torch::Tensor m = slopes.to(torch::kCPU, torch::kDouble).contiguous();
  const int64_t heads = m.numel();
  const double* mp = m.data_ptr<double>();
  std::vector<S> table(static_cast<size_t>(heads * length));
  for (int64_t h = 0; h < heads; ++h) {
    const S slope = static_cast<S>(mp[h]);
    for (int64_t d = 0; d < length; ++d) {
      const S bias = -slope * static_cast<S>(d);
      const S value = softmax ? bias : static_cast<S>(std::exp(bias));
      const int64_t k = reversed ? length - 1 - d : d;
      table[static_cast<size_t>(h * length + k)] = value;
    }
  }
  return table;
}

// The sizes of a call on qkv [B, T, 3 W]; strides are left to the caller.
Layout Sizes(const torch::Tensor& qkv, int64_t heads) {
  Layout l;
  l.batch = qkv.size(0);
  l.length = qkv.size(1);
  l.heads = heads;
  l.width = qkv.size(2) / 3;
  l.head_dim = l.width / heads;
  return l;
}

constexpr int64_t kGrain = 8;  // (batch, head) pairs per task at least

class FusedAttentionFunction
    : public torch::autograd::Function<FusedAttentionFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& qkv, int64_t heads,
                               bool softmax, const torch::Tensor& slopes) {
    Layout l = Sizes(qkv, heads);
    l.qkv_sb = qkv.stride(0);
    l.qkv_st = qkv.stride(1);
    torch::Tensor out = EmptyTokens(l.batch, l.length, l.width,
                                   IsPositionMajor(qkv), qkv.options());
    l.out_sb = out.stride(0);
    l.out_st = out.stride(1);
    torch::Tensor stat =
        torch::empty({l.batch, heads, l.length}, qkv.options());
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "FusedAttention", [&] {
      const std::vector<scalar_t> prior =
          PriorTable<scalar_t>(slopes, softmax, l.length, false);
      const scalar_t* in = qkv.data_ptr<scalar_t>();
      scalar_t* o = out.data_ptr<scalar_t>();
      scalar_t* st = stat.data_ptr<scalar_t>();
      at::parallel_for(0, l.batch * heads, kGrain,
                       [&](int64_t begin, int64_t end) {
                         Scratch<scalar_t> scratch(l);
                         Forward(l, softmax, prior.data(), in, o, st,
                                 scratch.data.data(), begin, end);
                       });
    });
    ctx->save_for_backward({qkv, out, stat, slopes});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["softmax"] = softmax;
    return out;
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& qkv = saved[0];
    const torch::Tensor& out = saved[1];
    const torch::Tensor& stat = saved[2];
    const torch::Tensor& slopes = saved[3];
    const int64_t heads = ctx->saved_data["heads"].toInt();
    const bool softmax = ctx->saved_data["softmax"].toBool();
    torch::Tensor grad_out = grad_outputs[0];
    if (grad_out.stride(2) != 1) grad_out = grad_out.contiguous();
    Layout l = Sizes(qkv, heads);
    torch::Tensor grad_qkv = EmptyTokens(l.batch, l.length, 3 * l.width,
                                        IsPositionMajor(qkv), qkv.options());
    l.qkv_sb = grad_qkv.stride(0);
    l.qkv_st = grad_qkv.stride(1);
    // The kernel reads qkv and writes grad_qkv with the same strides.
    const torch::Tensor input = qkv.strides() == grad_qkv.strides()
                                    ? qkv
                                    : torch::empty_like(grad_qkv).copy_(qkv);
    l.out_sb = out.stride(0);
    l.out_st = out.stride(1);
    l.grad_out_sb = grad_out.stride(0);
    l.grad_out_st = grad_out.stride(1);
    AT_DISPATCH_FLOATING_TYPES(
        qkv.scalar_type(), "FusedAttentionBackward", [&] {
          const std::vector<scalar_t> prior =
              PriorTable<scalar_t>(slopes, softmax, l.length, true);
          const scalar_t* in = input.data_ptr<scalar_t>();
          const scalar_t* o = out.data_ptr<scalar_t>();
          const scalar_t* go = grad_out.data_ptr<scalar_t>();
          const scalar_t* st = stat.data_ptr<scalar_t>();
          scalar_t* gq = grad_qkv.data_ptr<scalar_t>();
          at::parallel_for(0, l.batch * heads, kGrain,
                           [&](int64_t begin, int64_t end) {
                             Scratch<scalar_t> scratch(l);
                             Backward(l, softmax, prior.data(), in, o, go, st,
                                      gq, scratch.data.data(), begin, end);
                           });
        });
    return {grad_qkv, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor FusedAttention(const torch::Tensor& qkv, int64_t heads,
                             AttentionKind kind, const torch::Tensor& slopes) {
  TORCH_CHECK(qkv.device().is_cpu(), "FusedAttention: CPU tensors only, got ",
              qkv.device());
  TORCH_CHECK(qkv.dim() == 3, "FusedAttention: qkv must be [B, T, 3 W], got ",
              qkv.sizes());
  TORCH_CHECK(heads >= 1 && qkv.size(2) % (3 * heads) == 0,
              "FusedAttention: ", heads, " heads do not divide qkv width ",
              qkv.size(2), " into 3 equal parts");
  TORCH_CHECK(slopes.numel() == heads, "FusedAttention: ", slopes.numel(),
              " slopes for ", heads, " heads");
  TORCH_CHECK(
      kind == AttentionKind::kSoftmax || kind == AttentionKind::kExpressive,
      "FusedAttention: attention kind must be softmax or expressive");
  torch::Tensor input = qkv.stride(2) == 1 ? qkv : qkv.contiguous();
  return FusedAttentionFunction::apply(
      input, heads, kind == AttentionKind::kSoftmax, slopes.detach());
}

}  // namespace switchyard::worker::models
