#include "worker/train/window_source.h"

#include <algorithm>

#include "common/tasks/separations.h"

namespace switchyard::worker::train {
namespace {

class IarcSource : public WindowSource {
 public:
  IarcSource(const tasks::IarcOptions& options, uint64_t seed) : sampler_(options, seed) {}
  void Sample(int batch, tasks::WindowBatch* out) override { sampler_.Sample(batch, out); }
  std::string SaveState() const override { return sampler_.SaveState(); }
  bool LoadState(const std::string& state) override { return sampler_.LoadState(state); }

 private:
  tasks::WindowSampler sampler_;
};

class QuestionSource : public WindowSource {
 public:
  QuestionSource(const tasks::SeparationOptions& options, uint64_t seed)
      : sampler_(options, seed) {}

  void Sample(int batch, tasks::WindowBatch* out) override {
    sampler_.Sample(batch, &questions_);
    const int length = questions_.length;
    const size_t cells = static_cast<size_t>(questions_.batch) * length;
    out->batch = questions_.batch;
    out->length = length;
    out->input_ids.assign(questions_.input_ids.begin(), questions_.input_ids.end());
    out->input_control_ids.clear();
    // Scored at the last token only.
    out->targets.assign(cells, -1);
    out->rules.assign(cells, tasks::Rule::kNone);
    for (int b = 0; b < questions_.batch; ++b) {
      out->targets[static_cast<size_t>(b) * length + length - 1] = questions_.answers[b];
    }
  }
  std::string SaveState() const override { return sampler_.SaveState(); }
  bool LoadState(const std::string& state) override { return sampler_.LoadState(state); }

 private:
  tasks::QuestionSampler sampler_;
  tasks::QuestionBatch questions_;  // scratch
};

}  // namespace

std::unique_ptr<WindowSource> MakeWindowSource(const config::JobConfig& job, uint64_t seed) {
  if (job.IsIarc()) return std::make_unique<IarcSource>(job.TaskOptions(), seed);
  return std::make_unique<QuestionSource>(job.SeparationTaskOptions(), seed);
}

std::string DescribeTask(const config::JobConfig& job) {
  if (job.IsIarc()) return "tasks " + job.Str("tasks");
  const tasks::SeparationOptions options = job.SeparationTaskOptions();
  std::string text = job.Str("task") + " length " + std::to_string(options.length);
  if (options.family == tasks::TaskFamily::kDyck) {
    text += " depth " + std::to_string(options.depth);
  } else {
    text += " vocab " + std::to_string(tasks::Vocab(options));
  }
  if (options.family == tasks::TaskFamily::kNearestNeighbor) {
    text += " labels " + std::to_string(options.labels);
  }
  return text;
}

}  // namespace switchyard::worker::train
