// The fused feed-forward block (worker/models/fused_feed_forward.h) against
// its definition relu(x W1 + b1) W2 + b2: central differences in double,
// the reference maps in float, both weight layouts (shared: the
// transformer; per position: the cisformer), chunk sizes that do and do not
// divide the rows, one and two threads, and bad arguments.
#include "worker/models/fused_feed_forward.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/worker/models/finite_differences.h"
#include "tests/worker/models/float_compare.h"

namespace switchyard::worker::models {
namespace {

struct Case {
  int64_t batch;
  int64_t length;
  bool per_position;   // P = T (cisformer) or P = 1 (transformer)
  bool position_major; // x stored [T, B, in]
  int64_t chunk;       // rows per chunk; 0 = default
};

std::string Name(const Case& c) {
  return "B=" + std::to_string(c.batch) + " T=" + std::to_string(c.length) +
         (c.per_position ? " per-position" : " shared") +
         (c.position_major ? " [T, B]" : " [B, T]") +
         " chunk=" + std::to_string(c.chunk);
}

struct Inputs {
  torch::Tensor x, w1, b1, w2, b2;
  std::vector<torch::Tensor> all() const { return {x, w1, b1, w2, b2}; }
};

Inputs RandomInputs(const Case& c, int64_t in, int64_t hidden, int64_t out,
                    torch::Dtype dtype) {
  const int64_t p = c.per_position ? c.length : 1;
  Inputs i;
  i.x = c.position_major
            ? torch::randn({c.length, c.batch, in}, dtype).transpose(0, 1)
            : torch::randn({c.batch, c.length, in}, dtype);
  i.w1 = torch::randn({p, in, hidden}, dtype);
  i.b1 = torch::randn({p, hidden}, dtype);
  i.w2 = torch::randn({p, hidden, out}, dtype);
  i.b2 = torch::randn({p, out}, dtype);
  for (torch::Tensor* t : {&i.x, &i.w1, &i.b1, &i.w2, &i.b2})
    t->requires_grad_();
  return i;
}

torch::Tensor Fused(const Inputs& i, int64_t chunk) {
  return FusedFeedForward(i.x, {i.w1, i.b1}, {i.w2, i.b2}, chunk);
}

// The definition with plain LibTorch ops: position t uses map min(t, P-1).
torch::Tensor Reference(const Inputs& i) {
  torch::Tensor xt = i.x.transpose(0, 1);  // [T, B, in]
  torch::Tensor w1 = i.w1.expand({xt.size(0), -1, -1});
  torch::Tensor w2 = i.w2.expand({xt.size(0), -1, -1});
  torch::Tensor b1 = i.b1.expand({xt.size(0), -1}).unsqueeze(1);
  torch::Tensor b2 = i.b2.expand({xt.size(0), -1}).unsqueeze(1);
  torch::Tensor h = torch::relu(torch::baddbmm(b1, xt, w1));
  return torch::baddbmm(b2, h, w2).transpose(0, 1);  // [B, T, out]
}

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {3, 1, false, false, 0},  {3, 2, false, false, 1},
      {2, 7, false, false, 3},  {2, 7, false, true, 4},
      {5, 7, true, true, 2},    {4, 2, true, true, 0},
      {3, 24, true, true, 5},   {2, 24, false, false, 7},
  };
  return cases;
}

// Double: the fused backward against autograd through the definition
// (1e-10) and against central differences of the fused forward (1e-6), for
// every input, at one and at two threads.
TEST(FusedFeedForwardTest, GradientCheckInDouble) {
  for (int threads : {1, 2}) {
    torch::set_num_threads(threads);
    for (const Case& c : Cases()) {
      SCOPED_TRACE(Name(c) + " threads=" + std::to_string(threads));
      torch::manual_seed(c.batch * 100 + c.length);
      Inputs in = RandomInputs(c, 3, 5, 2, torch::kDouble);
      torch::Tensor g = torch::randn({c.batch, c.length, 2}, torch::kDouble);
      torch::Tensor y = Fused(in, c.chunk);
      EXPECT_EQ(y.sizes(), (std::vector<int64_t>{c.batch, c.length, 2}));
      if (c.per_position && c.batch > 1 && c.length > 1) {
        EXPECT_LT(y.stride(0), y.stride(1));  // stays [T, B] storage
      }
      std::vector<torch::Tensor> grads =
          torch::autograd::grad({y}, in.all(), {g});
      torch::Tensor ref = Reference(in);
      std::vector<torch::Tensor> ref_grads =
          torch::autograd::grad({ref}, in.all(), {g});
      EXPECT_LT(MaxDiff(y, ref), 1e-12);
      for (size_t k = 0; k < grads.size(); ++k) {
        EXPECT_LT(MaxDiff(grads[k], ref_grads[k]), 1e-10) << "input " << k;
      }

      torch::NoGradGuard no_grad;
      Inputs probe;
      probe.x = in.x.detach().clone();
      probe.w1 = in.w1.detach().clone();
      probe.b1 = in.b1.detach().clone();
      probe.w2 = in.w2.detach().clone();
      probe.b2 = in.b2.detach().clone();
      auto loss = [&] { return (Fused(probe, c.chunk) * g).sum().item<double>(); };
      std::vector<torch::Tensor> tensors = probe.all();
      for (size_t k = 0; k < tensors.size(); ++k) {
        // x stored [T, B] is not contiguous: the autograd check covers it.
        if (!tensors[k].is_contiguous()) continue;
        EXPECT_LT(WorstCentralDifferenceError(tensors[k], grads[k], loss), 1e-6)
            << "input " << k;
      }
    }
  }
  torch::set_num_threads(1);
}

// Float at the paper's widths (20 -> 2,600 -> 20, oneDNN products where the
// build has them): forward and every gradient within the float tolerance of
// the reference path's (float_compare.h), on two threads.
TEST(FusedFeedForwardTest, MatchesReferenceInFloat) {
  // Reductions: the forward pass sums 20 then 2,600 terms; a gradient goes
  // back through 20 (out) and 2,600 (hidden) terms or sums over the 40 x 24
  // rows, so 2,600 + 20 + 960 bounds every chain.
  const int64_t forward_length = 20 + 2600;
  const int64_t gradient_length = 2600 + 20 + 40 * 24;
  torch::set_num_threads(2);
  for (const Case& c : {Case{40, 24, false, false, 0},
                        Case{40, 24, false, false, 100},
                        Case{40, 24, true, true, 0},
                        Case{40, 24, true, true, 16},
                        Case{40, 5, false, true, 33}}) {
    SCOPED_TRACE(Name(c));
    torch::manual_seed(7);
    Inputs in = RandomInputs(c, 20, 2600, 20, torch::kFloat);
    torch::Tensor g = torch::randn({c.batch, c.length, 20});
    torch::Tensor y = Fused(in, c.chunk);
    std::vector<torch::Tensor> grads = torch::autograd::grad({y}, in.all(), {g});
    torch::Tensor ref = Reference(in);
    std::vector<torch::Tensor> ref_grads =
        torch::autograd::grad({ref}, in.all(), {g});
    EXPECT_TRUE(CloseInFloat(y, ref, forward_length, "output"));
    const std::vector<std::string> names = {"x", "w1", "b1", "w2", "b2"};
    EXPECT_TRUE(CloseInFloat(Named(names, grads), Named(names, ref_grads),
                             gradient_length));
  }
  torch::set_num_threads(1);
}

// Shapes that cannot work are c10::Errors naming what is wrong.
TEST(FusedFeedForwardTest, RejectsBadArguments) {
  torch::Tensor x = torch::randn({2, 3, 4});
  torch::Tensor w1 = torch::randn({1, 4, 6});
  torch::Tensor b1 = torch::randn({1, 6});
  torch::Tensor w2 = torch::randn({1, 6, 4});
  torch::Tensor b2 = torch::randn({1, 4});
  auto message = [](auto&& call) {
    try {
      call();
    } catch (const c10::Error& e) {
      return std::string(e.what_without_backtrace());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { FusedFeedForward(x.view({6, 4}), {w1, b1}, {w2, b2}); })
                .find("x must be [B, T, in]"),
            std::string::npos);
  EXPECT_NE(message([&] {
              FusedFeedForward(x, {torch::randn({1, 5, 6}), b1}, {w2, b2});
            }).find("widths do not chain"),
            std::string::npos);
  EXPECT_NE(message([&] {
              FusedFeedForward(x, {torch::randn({2, 4, 6}), torch::randn({2, 6})},
                               {torch::randn({2, 6, 4}), torch::randn({2, 4})});
            }).find("P must be 1 or the window length 3"),
            std::string::npos);
  EXPECT_NE(message([&] {
              FusedFeedForward(x, {w1, b1}, {torch::randn({3, 6, 4}),
                                             torch::randn({3, 4})});
            }).find("both maps need the same P"),
            std::string::npos);
  EXPECT_NE(message([&] { FusedFeedForward(x, {w1, b1.view({6})}, {w2, b2}); })
                .find("first must be weight [P, in, out] and bias [P, out]"),
            std::string::npos);
  EXPECT_NE(message([&] { FusedFeedForward(x, {w1, b1}, {w2, b2}, -1); })
                .find("chunk_rows -1 < 0"),
            std::string::npos);
}

}  // namespace
}  // namespace switchyard::worker::models
