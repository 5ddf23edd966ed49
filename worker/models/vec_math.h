// Scalar math written for GCC's vectoriser, shared by the fused CPU kernels
// (fused_attention.cc, fused_lstm.cc; both built at -O3 with
// -fno-trapping-math, see CMakeLists.txt).
#ifndef SWITCHYARD_WORKER_MODELS_VEC_MATH_H_
#define SWITCHYARD_WORKER_MODELS_VEC_MATH_H_

#include <bit>
#include <cmath>
#include <cstdint>

namespace switchyard::worker::models {

// exp(x) for float in plain arithmetic, so that loops calling it vectorise
// (std::exp does not without -ffast-math). Cephes' expf: x = n ln2 + r with
// |r| <= ln2 / 2, a degree-5 polynomial for exp(r), 2^n from the exponent
// bits; about 1 ulp on the clamped range. Below -87.3 it returns 2^-126
// instead of a smaller number: inside a softmax row that holds a 1 (the
// row's maximum) such a term is lost in rounding anyway.
inline float VecExp(float x) {
  x = x < -87.3365f ? -87.3365f : x;
  x = x > 88.0f ? 88.0f : x;  // 2^127 at most: no overflow in the bits
  // Round to nearest by adding and subtracting 1.5 * 2^23.
  float n = x * 1.44269504088896341f + 12582912.0f;
  n -= 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

inline double VecExp(double x) { return std::exp(x); }

// 1 / (1 + exp(-x)) and tanh(x) = 2 sigmoid(2x) - 1 on VecExp.
template <typename S>
inline S VecSigmoid(S x) {
  return S(1) / (S(1) + VecExp(-x));
}
template <typename S>
inline S VecTanh(S x) {
  return S(2) / (S(1) + VecExp(S(-2) * x)) - S(1);
}

// The instruction-set variants: the kernels are plain loops, so an AVX2
// clone (8 floats per instruction; T = 24 is three vectors) is chosen at
// load time where the CPU has it, the baseline x86-64 (SSE2) elsewhere.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// flatten: the kernels are inlined into each clone (a clone that only calls
// the baseline template would gain nothing).
#define SWITCHYARD_KERNEL \
  __attribute__((target_clones("avx2", "default"), flatten))
#else
#define SWITCHYARD_KERNEL
#endif

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_VEC_MATH_H_
