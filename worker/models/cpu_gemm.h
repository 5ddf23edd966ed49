// Matrix products for the fused (fast) CPU path, routed to oneDNN's sgemm
// where it is available.
//
// Debian's LibTorch sends every float matrix product to OpenBLAS, which is
// slow on the paper models' skinny shapes: measured on the project VM (2
// threads, 12,000 tokens), OpenBLAS reaches 35-76 GFLOP/s on the 20 <-> 2,600
// feed-forward products and 19 on the 20 -> 60 QKV map, oneDNN's JIT-built
// sgemm 111-150 and 171 (docs/benchmarks.md). LibTorch links oneDNN anyway
// (libdnnl.so.2); builds that find its header (libdnnl-dev) define
// SWITCHYARD_HAVE_DNNL and use it for float, everything else (double, other
// LibTorch builds) takes at::addmm_out: same results up to rounding.
//
// Threads: oneDNN runs on LibTorch's OpenMP pool (SetTorchThreads sets it);
// inside an at::parallel_for task a product runs on the calling thread.
#ifndef SWITCHYARD_WORKER_MODELS_CPU_GEMM_H_
#define SWITCHYARD_WORKER_MODELS_CPU_GEMM_H_

#include <torch/torch.h>

namespace switchyard::worker::models {

// c = alpha * a * b + beta * c for 2-D CPU tensors of one floating type;
// a and b may be transposed views (either stride 1), c must have rows of
// stride 1 (a narrow of a contiguous matrix is fine). beta = 0 ignores c's
// old contents (NaN included). Throws c10::Error on bad shapes.
void Gemm(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c,
          double alpha = 1.0, double beta = 0.0);

// True when Gemm uses oneDNN for float (for reports and benchmarks).
bool GemmUsesOneDnn();

// y = x W^T + b over the last dimension, as torch::nn::functional::linear,
// with forward and backward products through Gemm. x [..., in] (CPU),
// weight [out, in], bias [out]. Backward is not itself differentiable.
torch::Tensor FastLinear(const torch::Tensor& x, const torch::Tensor& weight,
                         const torch::Tensor& bias);

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_CPU_GEMM_H_
