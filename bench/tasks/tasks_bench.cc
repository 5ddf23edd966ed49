// The task generators on one thread: input tokens per second that each
// separation task's QuestionSampler (common/tasks/separations.h) draws, at
// lengths 20, 100 and 400 with every other option at its default, against
// IARC's WindowSampler (common/tasks/iarc.h, default options, context_length
// = the same length) measured in the same run.
//
//   build/bin/tasks_bench [--iterations 15] [--tokens 200000] [--lengths
//   20,100,400]
//
// A figure is the input tokens of one Sample() call (about --tokens of them,
// whole windows) over the median time of --iterations timed calls, after 2
// untimed ones. The target is 1M tokens/s on one core.
#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "bench/train_throughput/median_ms.h"
#include "common/tasks/iarc.h"
#include "common/tasks/separations.h"

namespace {

namespace tasks = switchyard::tasks;

constexpr char kProgram[] = "tasks_bench";

// Tokens per second of `sample(batch)` drawing `batch` windows of `window`
// tokens, batch chosen to make about `tokens` tokens a call.
template <typename Sample>
double TokensPerSecond(int window, int64_t tokens, int iterations,
                       Sample&& sample) {
  const int batch = static_cast<int>(std::max<int64_t>(1, tokens / window));
  const double ms =
      switchyard::bench::MedianMs(2, iterations, [&] { sample(batch); });
  return static_cast<double>(batch) * window / (ms / 1000);
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 15;
  int64_t tokens = 200'000;
  std::vector<int64_t> lengths = {20, 100, 400};
  for (int i = 1; i < argc; i += 2) {
    const std::string arg = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--iterations") {
      iterations = switchyard::bench::IntFlag(kProgram, arg, value, 1, 100000);
    } else if (arg == "--tokens") {
      tokens = switchyard::bench::IntFlag(kProgram, arg, value, int64_t{1});
    } else if (arg == "--lengths") {
      lengths = switchyard::bench::IntListFlag(kProgram, arg, value,
                                               tasks::kMinLength);
    } else {
      std::cerr << "usage: tasks_bench [--iterations K] [--tokens T] "
                   "[--lengths 20,100,400]\n";
      return 2;
    }
  }
  std::cout << "1 thread; about " << tokens << " input tokens per Sample() "
            << "call, median of " << iterations << " calls\n\n"
            << "| task | length | window | tokens/s | IARC tokens/s | task / "
               "IARC |\n| --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (int64_t length : lengths) {
    tasks::IarcOptions iarc;
    iarc.context_length = static_cast<int>(length);
    tasks::WindowSampler iarc_sampler(iarc, 1);
    tasks::WindowBatch iarc_batch;
    const double baseline =
        TokensPerSecond(iarc.context_length, tokens, iterations,
                        [&](int b) { iarc_sampler.Sample(b, &iarc_batch); });
    for (tasks::TaskFamily family :
         {tasks::TaskFamily::kIndexLookup, tasks::TaskFamily::kDyck,
          tasks::TaskFamily::kNearestNeighbor,
          tasks::TaskFamily::kStringEquality}) {
      tasks::SeparationOptions options;
      options.family = family;
      // string_equality needs an odd length: the nearest below.
      options.length = static_cast<int>(
          family == tasks::TaskFamily::kStringEquality ? length - 1 + length % 2
                                                       : length);
      // nearest_neighbor needs length/2 distinct points.
      if (family == tasks::TaskFamily::kNearestNeighbor) {
        options.vocab = std::max(64, options.length);
      }
      if (const std::string error = tasks::ValidateOptions(options);
          !error.empty()) {
        std::cerr << kProgram << ": " << tasks::TaskFamilyName(family) << ": "
                  << error << "\n";
        return 2;
      }
      tasks::QuestionSampler sampler(options, 1);
      tasks::QuestionBatch batch;
      const int window = tasks::WindowLength(options);
      const double rate =
          TokensPerSecond(window, tokens, iterations,
                          [&](int b) { sampler.Sample(b, &batch); });
      std::cout << std::fixed << "| " << tasks::TaskFamilyName(family) << " | "
                << options.length << " | " << window << " | "
                << std::setprecision(1) << rate / 1e6 << "M | "
                << baseline / 1e6 << "M | " << std::setprecision(2)
                << rate / baseline << " |\n"
                << std::flush;
    }
  }
  return 0;
}
