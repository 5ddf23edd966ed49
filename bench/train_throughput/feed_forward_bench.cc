// The feed-forward block alone: forward + backward of one block's
// relu(x W1 + b1) W2 + b2 at the paper shape (batch 500, T = 24, width 20,
// hidden 2,600), the fused operation (worker/models/fused_feed_forward.h)
// against the reference path (two maps and a relu, as TransformerBlock runs
// it), for the transformer's shared maps and the cisformer's per-position
// ones.
//
//   build/bin/feed_forward_bench [--threads 2] [--iterations 10]
//       [--batch 500] [--chunks 0,32,128]
//
// --chunks lists the fused operation's rows per chunk to try (0: its
// default). Each figure is the median of --iterations timed calls after 2
// warm-up calls, in milliseconds per forward + backward.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "bench/train_throughput/median_ms.h"
#include "worker/models/cisformer.h"
#include "worker/models/cpu_gemm.h"
#include "worker/models/fused_feed_forward.h"
#include "worker/models/transformer.h"
#include "worker/train/trainer.h"

namespace {

namespace models = switchyard::worker::models;

constexpr int64_t kLength = 24;
constexpr int kWidth = 20;
constexpr int kHidden = 2600;

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  int iterations = 10;
  int64_t batch = 500;
  std::vector<int64_t> chunks = {0};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--threads") {
      threads = switchyard::bench::IntFlag("feed_forward_bench", arg, value, 1, 1024);
    } else if (arg == "--iterations") {
      iterations = switchyard::bench::IntFlag("feed_forward_bench", arg, value, 1, 1000000);
    } else if (arg == "--batch") {
      batch = switchyard::bench::IntFlag("feed_forward_bench", arg, value, int64_t{1});
    } else if (arg == "--chunks") {
      chunks = switchyard::bench::IntListFlag("feed_forward_bench", arg, value, 0);
    } else {
      std::cerr << "usage: feed_forward_bench [--threads N] [--iterations K] "
                   "[--batch B] [--chunks C1,C2,...]\n";
      return 2;
    }
    ++i;
  }
  switchyard::worker::train::KeepFreedMemory();
  switchyard::worker::train::SetTorchThreads(threads);
  std::cout << "batch " << batch << ", T = " << kLength << ", width "
            << kWidth << " -> " << kHidden << " -> " << kWidth << ", "
            << threads << " thread(s), products through "
            << (models::GemmUsesOneDnn() ? "oneDNN" : "ATen")
            << "; median of " << iterations
            << " forward + backward calls\n\n"
            << "| maps | chunk rows | fused ms | reference ms | reference / "
               "fused |\n| --- | ---: | ---: | ---: | ---: |\n";
  torch::manual_seed(1);
  for (bool per_position : {false, true}) {
    std::shared_ptr<models::TokenMap> ffn1, ffn2;
    if (per_position) {
      ffn1 = std::make_shared<models::PositionwiseLinear>(kLength, kWidth,
                                                          kHidden);
      ffn2 = std::make_shared<models::PositionwiseLinear>(kLength, kHidden,
                                                          kWidth);
    } else {
      ffn1 = std::make_shared<models::SharedLinear>(kWidth, kHidden);
      ffn2 = std::make_shared<models::SharedLinear>(kHidden, kWidth);
    }
    // The cisformer's activations are stored position-major.
    torch::Tensor x =
        per_position ? torch::randn({kLength, batch, kWidth}).transpose(0, 1)
                     : torch::randn({batch, kLength, kWidth});
    x.requires_grad_();
    torch::Tensor grad = torch::randn({batch, kLength, kWidth});
    std::vector<torch::Tensor> inputs = {x};
    for (const auto& p : ffn1->parameters()) inputs.push_back(p);
    for (const auto& p : ffn2->parameters()) inputs.push_back(p);
    const double reference = switchyard::bench::MedianMs(2, iterations, [&] {
      torch::Tensor y = ffn2->forward(torch::relu(ffn1->forward(x)));
      torch::autograd::grad({y}, inputs, {grad});
    });
    if (!per_position) {
      // The same products unchunked: two FastLinear maps and a relu.
      const models::AffineWeights w1 = ffn1->Weights(kLength);
      const models::AffineWeights w2 = ffn2->Weights(kLength);
      const double fast = switchyard::bench::MedianMs(2, iterations, [&] {
        torch::Tensor y = models::FastLinear(
            torch::relu(models::FastLinear(x, w1.weight[0].t(), w1.bias[0])),
            w2.weight[0].t(), w2.bias[0]);
        torch::autograd::grad({y}, inputs, {grad});
      });
      std::cout << std::fixed << std::setprecision(1)
                << "| shared (transformer), FastLinear unchunked | - | "
                << fast << " | " << reference << " | " << std::setprecision(2)
                << reference / fast << " |\n";
    }
    for (int64_t chunk : chunks) {
      const double fused = switchyard::bench::MedianMs(2, iterations, [&] {
        torch::Tensor y =
            models::FusedFeedForward(x, ffn1->Weights(kLength),
                                     ffn2->Weights(kLength), chunk);
        torch::autograd::grad({y}, inputs, {grad});
      });
      std::cout << std::fixed << std::setprecision(1) << "| "
                << (per_position ? "per position (cisformer)"
                                 : "shared (transformer)")
                << " | " << (chunk == 0 ? std::string("default")
                                        : std::to_string(chunk))
                << " | " << fused << " | " << reference << " | "
                << std::setprecision(2) << reference / fused << " |\n"
                << std::flush;
    }
  }
  return 0;
}
