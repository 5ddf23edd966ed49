// The fused LSTM layer (worker/models/fused_lstm.h) against torch::nn::LSTM:
// forward and every gradient in double (1e-10) and in float at the paper's
// width (float_compare.h), central differences of the fused forward, window
// lengths 1, 2, 7 and 24, and bad arguments.
#include "worker/models/fused_lstm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "tests/worker/models/finite_differences.h"
#include "tests/worker/models/float_compare.h"

namespace switchyard::worker::models {
namespace {

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

struct Layer {
  torch::nn::LSTM lstm{nullptr};
  std::vector<torch::Tensor> params;  // w_ih, w_hh, b_ih, b_hh
};

Layer MakeLayer(int64_t in, int64_t hidden, torch::Dtype dtype) {
  Layer l;
  l.lstm = torch::nn::LSTM(
      torch::nn::LSTMOptions(in, hidden).num_layers(1).batch_first(true));
  l.lstm->to(dtype);
  auto p = l.lstm->named_parameters(false);
  l.params = {p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"],
              p["bias_hh_l0"]};
  return l;
}

torch::Tensor Fused(const torch::Tensor& x, const std::vector<torch::Tensor>& p) {
  return FusedLstmLayer(x, p[0], p[1], p[2], p[3]);
}

TEST(FusedLstmTest, MatchesTorchLstmInDouble) {
  for (int threads : {1, 2}) {
    torch::set_num_threads(threads);
    for (int64_t length : {1, 2, 7, 24}) {
      SCOPED_TRACE("T=" + std::to_string(length) +
                   " threads=" + std::to_string(threads));
      torch::manual_seed(length);
      Layer l = MakeLayer(4, 5, torch::kDouble);
      torch::Tensor x =
          torch::randn({3, length, 4}, torch::kDouble).requires_grad_();
      torch::Tensor g = torch::randn({3, length, 5}, torch::kDouble);
      std::vector<torch::Tensor> inputs = {x};
      inputs.insert(inputs.end(), l.params.begin(), l.params.end());
      torch::Tensor y = Fused(x, l.params);
      torch::Tensor ref = std::get<0>(l.lstm->forward(x));
      EXPECT_LT(MaxDiff(y, ref), 1e-12);
      auto grads = torch::autograd::grad({y}, inputs, {g});
      auto ref_grads = torch::autograd::grad({ref}, inputs, {g});
      for (size_t k = 0; k < grads.size(); ++k) {
        EXPECT_LT(MaxDiff(grads[k], ref_grads[k]), 1e-10) << "input " << k;
      }
      if (length != 7) continue;
      // Central differences of the fused forward, for x and w_hh.
      torch::NoGradGuard no_grad;
      std::vector<torch::Tensor> probe = {x.detach().clone()};
      for (const auto& p : l.params) probe.push_back(p.detach().clone());
      auto loss = [&] {
        return (FusedLstmLayer(probe[0], probe[1], probe[2], probe[3], probe[4]) * g)
            .sum()
            .item<double>();
      };
      for (size_t k : {size_t{0}, size_t{2}}) {
        EXPECT_LT(WorstCentralDifferenceError(probe[k], grads[k], loss), 1e-6)
            << "input " << k;
      }
    }
  }
  torch::set_num_threads(1);
}

// Float at the paper's layer (20 -> 550; oneDNN products where built), a
// position-major input as the second layer sees it, within the float
// tolerance of torch::nn::LSTM (float_compare.h).
TEST(FusedLstmTest, MatchesTorchLstmInFloat) {
  // Reductions: h_t comes from 24 steps of gate products over 20 + 550
  // terms each, every step's rounding counted once along the chain. The
  // gradients go back through as many steps, then sum over the 33 x 24 rows.
  const int64_t forward_length = 24 * (20 + 550);
  const int64_t gradient_length = 2 * forward_length + 33 * 24;
  torch::set_num_threads(2);
  torch::manual_seed(9);
  Layer l = MakeLayer(20, 550, torch::kFloat);
  for (bool time_major : {false, true}) {
    SCOPED_TRACE(time_major ? "[T, B] input" : "[B, T] input");
    torch::Tensor x =
        (time_major ? torch::randn({24, 33, 20}).transpose(0, 1)
                    : torch::randn({33, 24, 20}))
            .requires_grad_();
    torch::Tensor g = torch::randn({33, 24, 550});
    std::vector<torch::Tensor> inputs = {x};
    inputs.insert(inputs.end(), l.params.begin(), l.params.end());
    torch::Tensor y = Fused(x, l.params);
    torch::Tensor ref = std::get<0>(l.lstm->forward(x));
    EXPECT_TRUE(CloseInFloat(y, ref, forward_length, "output"));
    auto grads = torch::autograd::grad({y}, inputs, {g});
    auto ref_grads = torch::autograd::grad({ref}, inputs, {g});
    const std::vector<std::string> names = {"x", "w_ih", "w_hh", "b_ih",
                                            "b_hh"};
    EXPECT_TRUE(CloseInFloat(Named(names, grads), Named(names, ref_grads),
                             gradient_length));
  }
  torch::set_num_threads(1);
}

TEST(FusedLstmTest, RejectsBadArguments) {
  Layer l = MakeLayer(4, 5, torch::kFloat);
  try {
    FusedLstmLayer(torch::randn({2, 3, 6}), l.params[0], l.params[1],
                   l.params[2], l.params[3]);
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace())
                  .find("do not form an LSTM layer"),
              std::string::npos);
  }
  EXPECT_THROW(FusedLstmLayer(torch::randn({6, 4}), l.params[0], l.params[1],
                              l.params[2], l.params[3]),
               c10::Error);
}

}  // namespace
}  // namespace switchyard::worker::models
