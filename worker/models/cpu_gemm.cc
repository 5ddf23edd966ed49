#include "worker/models/cpu_gemm.h"

#include <cstdint>
#include <vector>

#ifdef SWITCHYARD_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

namespace switchyard::worker::models {
namespace {

#ifdef SWITCHYARD_HAVE_DNNL
// A row-major operand for sgemm: its data, leading dimension and whether it
// is stored transposed. Copies when neither dimension has stride 1.
struct Operand {
  torch::Tensor storage;
  char trans = 'N';
  int64_t ld = 0;
};

Operand AsOperand(const torch::Tensor& m) {
  Operand op;
  if (m.stride(1) == 1 && (m.size(0) <= 1 || m.stride(0) >= m.size(1))) {
    op.storage = m;
    op.ld = std::max<int64_t>(m.stride(0), std::max<int64_t>(m.size(1), 1));
  } else if (m.stride(0) == 1 && (m.size(1) <= 1 || m.stride(1) >= m.size(0))) {
    op.storage = m;
    op.trans = 'T';
    op.ld = std::max<int64_t>(m.stride(1), std::max<int64_t>(m.size(0), 1));
  } else {
    op.storage = m.contiguous();
    op.ld = std::max<int64_t>(m.size(1), 1);
  }
  return op;
}
#endif

}  // namespace

bool GemmUsesOneDnn() {
#ifdef SWITCHYARD_HAVE_DNNL
  return true;
#else
  return false;
#endif
}

void Gemm(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c,
          double alpha, double beta) {
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && c.dim() == 2 &&
                  a.size(1) == b.size(0) && c.size(0) == a.size(0) &&
                  c.size(1) == b.size(1),
              "Gemm: shapes do not multiply: ", a.sizes(), " x ", b.sizes(),
              " -> ", c.sizes());
  TORCH_CHECK(a.device().is_cpu() && b.device().is_cpu() && c.device().is_cpu(),
              "Gemm: CPU tensors only");
  TORCH_CHECK(c.size(0) <= 1 || c.size(1) == 0 || c.stride(1) == 1,
              "Gemm: the result's rows must be contiguous");
#ifdef SWITCHYARD_HAVE_DNNL
  if (c.scalar_type() == torch::kFloat && a.scalar_type() == torch::kFloat &&
      b.scalar_type() == torch::kFloat) {
    if (c.numel() == 0) return;
    const Operand oa = AsOperand(a);
    const Operand ob = AsOperand(b);
    const int64_t ldc =
        std::max<int64_t>(c.size(0) > 1 ? c.stride(0) : c.size(1), 1);
    const dnnl_status_t status = dnnl_sgemm(
        oa.trans, ob.trans, a.size(0), b.size(1), a.size(1),
        static_cast<float>(alpha), oa.storage.data_ptr<float>(), oa.ld,
        ob.storage.data_ptr<float>(), ob.ld, static_cast<float>(beta),
        c.data_ptr<float>(), ldc);
    TORCH_CHECK(status == dnnl_success, "Gemm: dnnl_sgemm failed with status ",
                static_cast<int>(status));
    return;
  }
#endif
  if (beta == 0.0) {
    // addmm_out with beta 0 still reads c under some BLAS; mm_out does not.
    torch::Tensor out = c;
    torch::mm_out(out, a, b);
    if (alpha != 1.0) out.mul_(alpha);
  } else {
    torch::Tensor out = c;
    torch::addmm_out(out, c, a, b, beta, alpha);
  }
}

namespace {

class FastLinearFunction : public torch::autograd::Function<FastLinearFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& x,
                               const torch::Tensor& weight,
                               const torch::Tensor& bias) {
    torch::NoGradGuard no_grad;
    const int64_t in = weight.size(1);
    const int64_t out = weight.size(0);
    const torch::Tensor rows = x.contiguous().view({-1, in});
    torch::Tensor y = bias.expand({rows.size(0), out}).contiguous();
    Gemm(rows, weight.t(), y, 1.0, 1.0);
    ctx->save_for_backward({rows, weight});
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out;
    return y.view(shape);
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::tensor_list grad_outputs) {
    torch::NoGradGuard no_grad;
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& rows = saved[0];
    const torch::Tensor& weight = saved[1];
    const int64_t out = weight.size(0);
    const torch::Tensor gy = grad_outputs[0].contiguous().view({-1, out});
    torch::Tensor gx = torch::empty_like(rows);
    Gemm(gy, weight, gx);
    torch::Tensor gw = torch::empty_like(weight);
    Gemm(gy.t(), rows, gw);
    std::vector<int64_t> shape = grad_outputs[0].sizes().vec();
    shape.back() = weight.size(1);
    return {gx.view(shape), gw, gy.sum(0)};
  }
};

}  // namespace

torch::Tensor FastLinear(const torch::Tensor& x, const torch::Tensor& weight,
                         const torch::Tensor& bias) {
  TORCH_CHECK(x.device().is_cpu(), "FastLinear: CPU tensors only, got ",
              x.device());
  TORCH_CHECK(weight.dim() == 2 && x.dim() >= 1 &&
                  x.size(-1) == weight.size(1) && bias.dim() == 1 &&
                  bias.size(0) == weight.size(0),
              "FastLinear: x ", x.sizes(), ", weight ", weight.sizes(),
              " and bias ", bias.sizes(), " do not fit");
  return FastLinearFunction::apply(x, weight, bias);
}

}  // namespace switchyard::worker::models
