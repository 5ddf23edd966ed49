// Gemm and FastLinear (worker/models/cpu_gemm.h) against ATen's products:
// every transpose combination, strided results, alpha and beta, operands
// that need a copy, float (oneDNN where built) and double (ATen).
#include "worker/models/cpu_gemm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>
#include <string>

#include "tests/worker/models/float_compare.h"

namespace switchyard::worker::models {
namespace {

// Results are compared relative to their largest entry; in float within the
// tolerance of float_compare.h, which holds whichever kernel oneDNN and
// OpenBLAS pick.

TEST(GemmTest, MatchesMatmulForEveryLayout) {
  torch::manual_seed(3);
  for (torch::Dtype dtype : {torch::kFloat, torch::kDouble}) {
    for (bool trans_a : {false, true}) {
      for (bool trans_b : {false, true}) {
        SCOPED_TRACE(std::string(dtype == torch::kFloat ? "float" : "double") +
                     (trans_a ? " A^T" : " A") + (trans_b ? " B^T" : " B"));
        // [37, 20] x [20, 61], each operand possibly a transposed view.
        torch::Tensor a = trans_a ? torch::randn({20, 37}, dtype).t()
                                  : torch::randn({37, 20}, dtype);
        torch::Tensor b = trans_b ? torch::randn({61, 20}, dtype).t()
                                  : torch::randn({20, 61}, dtype);
        // Sums of 20 products (of 21 terms with beta).
        const double tolerance =
            dtype == torch::kFloat ? FloatPathTolerance(21) : 1e-12;
        // beta = 0 ignores what c held, NaN included.
        torch::Tensor c = torch::full({37, 61},
                                      std::numeric_limits<double>::quiet_NaN(),
                                      dtype);
        Gemm(a, b, c);
        EXPECT_LT(RelativeMaxDifference(c, torch::mm(a, b)), tolerance);
        // alpha and beta; the result a narrow of a wider matrix (ldc > n).
        torch::Tensor wide = torch::randn({37, 70}, dtype);
        torch::Tensor before = wide.clone();
        torch::Tensor view = wide.narrow(1, 4, 61);
        Gemm(a, b, view, 0.5, 2.0);
        EXPECT_LT(RelativeMaxDifference(view, 0.5 * torch::mm(a, b) +
                                    2.0 * before.narrow(1, 4, 61)),
                  tolerance);
        EXPECT_TRUE(torch::equal(wide.narrow(1, 0, 4), before.narrow(1, 0, 4)));
        EXPECT_TRUE(torch::equal(wide.narrow(1, 65, 5), before.narrow(1, 65, 5)));
      }
    }
  }
}

TEST(GemmTest, CopiesOperandsWithoutAUnitStride) {
  torch::Tensor big = torch::randn({40, 40});
  torch::Tensor a = big.slice(0, 0, 40, 2).slice(1, 0, 40, 2);  // [20, 20]
  torch::Tensor b = torch::randn({20, 9});
  torch::Tensor c = torch::empty({20, 9});
  Gemm(a, b, c);
  EXPECT_LT(RelativeMaxDifference(c, torch::mm(a, b)), FloatPathTolerance(20));
  // Empty products leave a zero-sized result alone.
  torch::Tensor empty = torch::empty({0, 9});
  Gemm(torch::randn({0, 20}), b, empty);
  EXPECT_EQ(empty.numel(), 0);
}

TEST(GemmTest, RejectsShapesThatDoNotMultiply) {
  torch::Tensor c = torch::empty({3, 4});
  try {
    Gemm(torch::randn({3, 5}), torch::randn({6, 4}), c);
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace())
                  .find("Gemm: shapes do not multiply"),
              std::string::npos);
  }
  torch::Tensor columns = torch::empty({4, 3}).t();  // rows not contiguous
  EXPECT_THROW(Gemm(torch::randn({3, 5}), torch::randn({5, 4}), columns),
               c10::Error);
}

// FastLinear equals torch::nn::functional::linear, forward and backward, on
// 2-D and 3-D (also non-contiguous) inputs.
TEST(FastLinearTest, MatchesLinear) {
  torch::set_num_threads(2);
  for (torch::Dtype dtype : {torch::kFloat, torch::kDouble}) {
    for (bool three_d : {false, true}) {
      SCOPED_TRACE(std::string(dtype == torch::kFloat ? "float" : "double") +
                   (three_d ? " 3-D" : " 2-D"));
      torch::manual_seed(11);
      torch::Tensor x = three_d
                            ? torch::randn({24, 50, 20}, dtype).transpose(0, 1)
                            : torch::randn({300, 20}, dtype);
      x.requires_grad_();
      torch::Tensor w = torch::randn({60, 20}, dtype).requires_grad_();
      torch::Tensor b = torch::randn({60}, dtype).requires_grad_();
      torch::Tensor y = FastLinear(x, w, b);
      torch::Tensor ref = torch::nn::functional::linear(x, w, b);
      ASSERT_EQ(y.sizes(), ref.sizes());
      torch::Tensor g = torch::randn(ref.sizes(), dtype);
      auto grads = torch::autograd::grad({y}, {x, w, b}, {g});
      auto ref_grads = torch::autograd::grad({ref}, {x, w, b}, {g});
      // Forward: sums of 20 products. Gradients: of 60 (the input's) or
      // of the 1,200 rows (the weight's and the bias's).
      const bool is_float = dtype == torch::kFloat;
      EXPECT_LT(RelativeMaxDifference(y, ref),
                is_float ? FloatPathTolerance(20) : 1e-12);
      for (size_t k = 0; k < grads.size(); ++k) {
        EXPECT_EQ(grads[k].sizes(), ref_grads[k].sizes());
        EXPECT_LT(RelativeMaxDifference(grads[k], ref_grads[k]),
                  is_float ? FloatPathTolerance(1200) : 1e-12)
            << "input " << k;
      }
    }
  }
  torch::set_num_threads(1);
  EXPECT_THROW(FastLinear(torch::randn({3, 5}), torch::randn({4, 6}),
                          torch::randn({4})),
               c10::Error);
}

}  // namespace
}  // namespace switchyard::worker::models
