// Few, broad test cases on purpose: ctest runs each case in its own process,
// and loading LibTorch costs about a second per process.
#include "worker/models/attention.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

namespace switchyard::worker::models {
namespace {

torch::Tensor Slopes(int heads) {
  std::vector<double> s = AlibiSlopes(heads);
  return torch::tensor(std::vector<float>(s.begin(), s.end()));
}

TEST(AlibiSlopesTest, StandardGeometricSlopes) {
  EXPECT_EQ(AlibiSlopes(4),
            (std::vector<double>{0.25, 0.0625, 0.015625, 0.00390625}));
  std::vector<double> eight = AlibiSlopes(8);
  ASSERT_EQ(eight.size(), 8u);
  EXPECT_DOUBLE_EQ(eight[0], 0.5);
  EXPECT_DOUBLE_EQ(eight[7], std::pow(2.0, -8.0));
  // Not a power of two: the slopes of 4 heads, then slopes 1 and 3 of 8.
  EXPECT_EQ(AlibiSlopes(6), (std::vector<double>{0.25, 0.0625, 0.015625,
                                                 0.00390625, 0.5, 0.125}));
  EXPECT_TRUE(AlibiSlopes(0).empty());
}

TEST(AttentionWeightsTest, FutureIsZeroRowsSumToOneAndZeroScoresGiveNoNan) {
  for (AttentionKind kind :
       {AttentionKind::kSoftmax, AttentionKind::kExpressive}) {
    SCOPED_TRACE(AttentionKindName(kind));
    torch::manual_seed(1);
    const int64_t t = 7;
    torch::Tensor prior = AttentionPrior(kind, Slopes(4), t);
    torch::Tensor z = torch::randn({3, 4, t, t}) * 3;
    torch::Tensor w = AttentionWeights(z, kind, prior);
    ASSERT_EQ(w.sizes(), z.sizes());
    torch::Tensor future = torch::ones({t, t}, torch::kBool).triu(1);
    EXPECT_EQ(w.masked_select(future).abs().max().item<float>(), 0.0f);
    EXPECT_TRUE(w.ge(0).all().item<bool>());
    EXPECT_LT((w.sum(-1) - 1).abs().max().item<float>(), 1e-4);

    // z = 0 everywhere: finite weights and finite gradients.
    torch::Tensor zeros = torch::zeros({2, 4, t, t}, torch::requires_grad());
    torch::Tensor w0 = AttentionWeights(zeros, kind, prior);
    EXPECT_FALSE(w0.isnan().any().item<bool>());
    w0.sum().backward();
    EXPECT_FALSE(zeros.grad().isnan().any().item<bool>());
    if (kind == AttentionKind::kExpressive) {
      // z^2 / (1 + z^2) is 0 everywhere: the eps keeps the row at 0.
      EXPECT_EQ(w0.abs().sum().item<float>(), 0.0f);
    }
  }
}

TEST(ExpressiveAttentionTest, MatchesTheFormulaAndItsGradient) {
  torch::manual_seed(2);
  const int64_t t = 6;
  torch::Tensor z = torch::randn({1, 2, t, t});
  std::vector<double> slopes = AlibiSlopes(2);
  torch::Tensor w = AttentionWeights(
      z, AttentionKind::kExpressive,
      AttentionPrior(AttentionKind::kExpressive, Slopes(2), t));
  for (int h = 0; h < 2; ++h) {
    for (int i = 0; i < t; ++i) {
      std::vector<double> raw;
      double sum = 0;
      for (int j = 0; j <= i; ++j) {
        double zz = z[0][h][i][j].item<double>();
        raw.push_back(zz * zz / (1 + zz * zz) * std::exp(-slopes[h] * (i - j)));
        sum += raw.back();
      }
      for (int j = 0; j <= i; ++j) {
        EXPECT_NEAR(w[0][h][i][j].item<double>(),
                    raw[j] / (sum + kExpressiveEps), 1e-5);
      }
    }
  }

  // The hand-written backward against autograd through the plain formula,
  // in double precision.
  torch::Tensor prior = AttentionPrior(AttentionKind::kExpressive,
                                       Slopes(3).to(torch::kDouble), t);
  torch::Tensor zd =
      (torch::randn({2, 3, t, t}, torch::kDouble) * 2).requires_grad_();
  torch::Tensor g = torch::randn({2, 3, t, t}, torch::kDouble);
  torch::Tensor fused = AttentionWeights(zd, AttentionKind::kExpressive, prior);
  torch::Tensor fused_grad = torch::autograd::grad({fused}, {zd}, {g})[0];
  torch::Tensor z2 = zd.square();
  torch::Tensor u = z2 / (z2 + 1.0) * prior;
  torch::Tensor plain = u / (u.sum(-1, true) + kExpressiveEps);
  torch::Tensor plain_grad = torch::autograd::grad({plain}, {zd}, {g})[0];
  EXPECT_TRUE(torch::allclose(fused, plain, 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(fused_grad, plain_grad, 1e-9, 1e-12))
      << (fused_grad - plain_grad).abs().max().item<double>();
}

TEST(AttentionTest, AlibiBiasFavoursNearKeysAndAttendKeepsShapes) {
  // Equal scores: softmax weights fall off by exp(-m) per step of distance.
  const int64_t t = 4;
  torch::Tensor w =
      AttentionWeights(torch::zeros({1, 1, t, t}), AttentionKind::kSoftmax,
                       AttentionPrior(AttentionKind::kSoftmax, Slopes(1), t));
  const double m = AlibiSlopes(1)[0];
  EXPECT_NEAR(w[0][0][3][2].item<double>() / w[0][0][3][3].item<double>(),
              std::exp(-m), 1e-5);

  torch::Tensor q = torch::randn({2, 4, 9, 5});
  for (AttentionKind kind :
       {AttentionKind::kSoftmax, AttentionKind::kExpressive}) {
    torch::Tensor out =
        Attend(q, q, q, kind, AttentionPrior(kind, Slopes(4), 9));
    EXPECT_EQ(out.sizes(), q.sizes());
  }
}

}  // namespace
}  // namespace switchyard::worker::models
