// Attention alone: forward + backward of one block's attention at the paper
// shape (batch 500, 4 heads of width 5, T = 24), the fused operation
// (worker/models/fused_attention.h) against the reference path (Attend:
// split the heads, matmul, prior, softmax or expressive weights, matmul,
// merge), both kinds, in the transformer's [B, T] storage and the
// cisformer's [T, B] one.
//
//   build/bin/attention_bench [--threads 2] [--iterations 20] [--batch 500]
//
// Each figure is the median of --iterations timed calls after 3 warm-up
// calls, in milliseconds per forward + backward.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "bench/train_throughput/median_ms.h"
#include "worker/models/attention.h"
#include "worker/models/fused_attention.h"
#include "worker/train/trainer.h"

namespace {

namespace models = switchyard::worker::models;

constexpr int64_t kHeads = 4;
constexpr int64_t kWidth = 20;
constexpr int64_t kLength = 24;

torch::Tensor ReferenceAttention(const torch::Tensor& qkv,
                                 models::AttentionKind kind,
                                 const torch::Tensor& slopes) {
  const int64_t b = qkv.size(0);
  std::vector<torch::Tensor> parts = qkv.chunk(3, -1);
  auto split = [&](const torch::Tensor& x) {
    return x.reshape({b, kLength, kHeads, kWidth / kHeads}).transpose(1, 2);
  };
  torch::Tensor a =
      models::Attend(split(parts[0]), split(parts[1]), split(parts[2]), kind,
                     models::AttentionPrior(kind, slopes, kLength));
  return a.transpose(1, 2).reshape({b, kLength, kWidth});
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  int iterations = 20;
  int64_t batch = 500;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--threads") {
      threads = switchyard::bench::IntFlag("attention_bench", arg, value, 1, 1024);
    } else if (arg == "--iterations") {
      iterations = switchyard::bench::IntFlag("attention_bench", arg, value, 1, 1000000);
    } else if (arg == "--batch") {
      batch = switchyard::bench::IntFlag("attention_bench", arg, value, int64_t{1});
    } else {
      std::cerr << "usage: attention_bench [--threads N] [--iterations K] "
                   "[--batch B]\n";
      return 2;
    }
    ++i;
  }
  switchyard::worker::train::KeepFreedMemory();
  switchyard::worker::train::SetTorchThreads(threads);
  std::vector<double> s = models::AlibiSlopes(kHeads);
  torch::Tensor slopes = torch::tensor(std::vector<float>(s.begin(), s.end()));
  std::cout << "batch " << batch << ", " << kHeads << " heads of width "
            << kWidth / kHeads << ", T = " << kLength << ", " << threads
            << " thread(s); median of " << iterations
            << " forward + backward calls\n\n"
            << "| kind | storage | fused ms | reference ms | reference / "
               "fused |\n| --- | --- | ---: | ---: | ---: |\n";
  torch::manual_seed(1);
  for (models::AttentionKind kind :
       {models::AttentionKind::kSoftmax, models::AttentionKind::kExpressive}) {
    for (bool position_major : {false, true}) {
      torch::Tensor qkv =
          position_major
              ? torch::randn({kLength, batch, 3 * kWidth}).transpose(0, 1)
              : torch::randn({batch, kLength, 3 * kWidth});
      qkv.requires_grad_();
      torch::Tensor grad = torch::randn({batch, kLength, kWidth});
      auto run = [&](bool fused) {
        return switchyard::bench::MedianMs(3, iterations, [&] {
          torch::Tensor out =
              fused ? models::FusedAttention(qkv, kHeads, kind, slopes)
                    : ReferenceAttention(qkv, kind, slopes);
          torch::autograd::grad({out}, {qkv}, {grad});
        });
      };
      const double fused = run(true);
      const double reference = run(false);
      std::cout << std::fixed << std::setprecision(2) << "| "
                << models::AttentionKindName(kind) << " | "
                << (position_major ? "[T, B] (cisformer)"
                                   : "[B, T] (transformer)")
                << " | " << fused << " | " << reference << " | "
                << std::setprecision(1) << reference / fused << " |\n"
                << std::flush;
    }
  }
  return 0;
}
