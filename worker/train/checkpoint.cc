#include "worker/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <mutex>
#include <system_error>

namespace switchyard::worker::train {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kFormatVersion = 1;

// Parses "ckpt-<digits>.pt"; -1 for any other name.
int64_t StepOfName(const std::string& name) {
  const std::string prefix = "ckpt-";
  const std::string suffix = ".pt";
  if (name.size() <= prefix.size() + suffix.size() ||
      name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return -1;
  }
  const std::string digits =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 18) return -1;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
  }
  return std::stoll(digits);
}

int64_t ReadInt(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toInt();
}

std::string ReadString(torch::serialize::InputArchive& archive,
                       const char* key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toStringRef();
}

}  // namespace

std::string CheckpointPath(const std::string& dir, int64_t step) {
  return (fs::path(dir) / ("ckpt-" + std::to_string(step) + ".pt")).string();
}

std::vector<std::pair<int64_t, std::string>> ListCheckpoints(
    const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code error;
  fs::directory_iterator it(dir, error);
  if (error) return found;
  for (const fs::directory_entry& entry : it) {
    const int64_t step = StepOfName(entry.path().filename().string());
    if (step >= 0 && entry.is_regular_file(error)) {
      found.emplace_back(step, entry.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string WriteCheckpoint(const std::string& dir, const LoopState& state,
                            torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, int keep,
                            std::string* path) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return "checkpoint-dir " + dir + ": " + error.message();

  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("format", c10::IValue(kFormatVersion));
  archive.write("global_step", c10::IValue(state.global_step));
  archive.write("epoch", c10::IValue(state.epoch));
  archive.write("step_in_epoch", c10::IValue(state.step_in_epoch));
  // An IValue double keeps all 64 bits, so the epoch's mean loss after a
  // resume equals the uninterrupted one exactly.
  archive.write("loss_sum", c10::IValue(state.loss_sum));
  archive.write("sampler_state", c10::IValue(state.sampler_state));
  archive.write("config", c10::IValue(state.config_json));
  archive.write("last_metrics", c10::IValue(state.last_metrics));
  {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("torch_cpu_rng", generator.get_state());
  }

  const std::string final_path = CheckpointPath(dir, state.global_step);
  const std::string temp_path = final_path + ".tmp";
  archive.save_to(temp_path);
  fs::rename(temp_path, final_path, error);
  if (error) return "checkpoint " + final_path + ": " + error.message();
  *path = final_path;

  auto all = ListCheckpoints(dir);
  for (size_t i = 0; i + keep < all.size(); ++i) {
    fs::remove(all[i].second, error);  // best effort: a leftover is harmless
  }
  return "";
}

void ReadCheckpoint(const std::string& path, const torch::Device& device,
                    torch::nn::Module& model,
                    torch::optim::Optimizer& optimizer, LoopState* state) {
  torch::serialize::InputArchive archive;
  archive.load_from(path, device);
  TORCH_CHECK(ReadInt(archive, "format") == kFormatVersion, path,
              ": unsupported checkpoint format");
  torch::serialize::InputArchive model_archive;
  archive.read("model", model_archive);
  model.load(model_archive);
  torch::serialize::InputArchive optimizer_archive;
  archive.read("optimizer", optimizer_archive);
  optimizer.load(optimizer_archive);
  LoopState loaded;
  loaded.global_step = ReadInt(archive, "global_step");
  loaded.epoch = ReadInt(archive, "epoch");
  loaded.step_in_epoch = ReadInt(archive, "step_in_epoch");
  c10::IValue loss_sum;
  archive.read("loss_sum", loss_sum);
  loaded.loss_sum = loss_sum.toDouble();
  loaded.sampler_state = ReadString(archive, "sampler_state");
  loaded.config_json = ReadString(archive, "config");
  loaded.last_metrics = ReadString(archive, "last_metrics");
  torch::Tensor rng;
  archive.read("torch_cpu_rng", rng);
  {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng.to(torch::kCPU));
  }
  *state = std::move(loaded);
}

}  // namespace switchyard::worker::train
