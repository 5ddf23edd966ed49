#include "worker/train/trainer.h"

#include <torch/torch.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "common/tasks/iarc.h"
#include "worker/models/model.h"
#include "worker/train/checkpoint.h"
#include "worker/train/metrics.h"
#include "worker/train/window_source.h"

namespace switchyard::worker::train {
namespace {

namespace F = torch::nn::functional;
using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// Evaluation runs in chunks of this many windows, independent of the batch
// size, so a job's metrics do not depend on how it was batched.
constexpr int kEvalChunk = 1000;

// A failure that ends the job with kExitFailed (raised and caught inside
// RunTraining only).
struct TrainingFailure {
  std::string message;
};

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

void WriteLine(std::ostream& out, const Json& json) {
  out << json.dump() << '\n' << std::flush;
}

// The error names the device; *exit_code says whose fault it is: a name
// that is no device is the job's (kExitBadConfig), a device this machine or
// this LibTorch cannot give is the machine's (kExitEnvironment).
std::string ParseDevice(const std::string& text, torch::Device* device,
                        int* exit_code) {
  *exit_code = kExitBadConfig;
  if (text == "cpu") {
    *device = torch::Device(torch::kCPU);
    return "";
  }
  int index = 0;
  if (text == "cuda") {
    index = 0;
  } else if (text.rfind("cuda:", 0) == 0 && text.size() > 5 &&
             text.size() <= 8 &&
             std::all_of(text.begin() + 5, text.end(),
                         [](char c) { return c >= '0' && c <= '9'; })) {
    index = std::stoi(text.substr(5));
  } else {
    return "device: unknown device '" + text + "'; use cpu, cuda or cuda:N";
  }
  *exit_code = kExitEnvironment;
  if (!torch::cuda::is_available()) {
    return "device: " + text +
           " requested, but CUDA is not available (a CPU-only LibTorch, or "
           "no GPU visible in CUDA_VISIBLE_DEVICES)";
  }
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (index >= count) {
    return "device: " + text + " does not exist (" + std::to_string(count) +
           " CUDA device(s) visible)";
  }
  *device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  return "";
}

// One batch of windows as device tensors.
struct Batch {
  torch::Tensor ids;      // [B, T] int64
  torch::Tensor control;  // [B, T] int64, or undefined (layout separate)
  torch::Tensor targets;  // [B, T] int64, -1 where the target is a control
};

torch::Tensor ToLong(const std::vector<int32_t>& data, int64_t batch,
                     int64_t length, const torch::Device& device) {
  // from_blob only views `data`; .to() copies before `data` can change.
  return torch::from_blob(const_cast<int32_t*>(data.data()), {batch, length},
                          torch::kInt32)
      .to(device, torch::kLong);
}

Batch ToBatch(const tasks::WindowBatch& windows, const torch::Device& device) {
  Batch b;
  b.ids = ToLong(windows.input_ids, windows.batch, windows.length, device);
  if (!windows.input_control_ids.empty()) {
    b.control = ToLong(windows.input_control_ids, windows.batch, windows.length,
                       device);
  }
  b.targets = ToLong(windows.targets, windows.batch, windows.length, device);
  return b;
}

struct EvalChunk {
  tasks::WindowBatch windows;  // host copy: targets and rules for counting
  Batch tensors;
};

std::vector<EvalChunk> MakeEvalSet(const config::JobConfig& job,
                                   uint64_t seed, int64_t count,
                                   const torch::Device& device) {
  std::unique_ptr<WindowSource> sampler = MakeWindowSource(job, seed);
  std::vector<EvalChunk> chunks;
  for (int64_t done = 0; done < count; done += kEvalChunk) {
    EvalChunk chunk;
    sampler->Sample(
        static_cast<int>(std::min<int64_t>(kEvalChunk, count - done)),
        &chunk.windows);
    chunk.tensors = ToBatch(chunk.windows, device);
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

torch::Tensor LossOf(const torch::Tensor& logits, const torch::Tensor& targets,
                     torch::nn::functional::CrossEntropyFuncOptions options) {
  const int64_t numbers = logits.size(-1);
  return F::cross_entropy(logits.reshape({-1, numbers}), targets.reshape({-1}),
                          options.ignore_index(-1));
}

EvalCounts Evaluate(models::SequenceModel& model,
                    const std::vector<EvalChunk>& eval_set) {
  torch::NoGradGuard no_grad;
  model.eval();
  EvalCounts counts;
  for (const EvalChunk& chunk : eval_set) {
    torch::Tensor logits =
        model.Forward(chunk.tensors.ids, chunk.tensors.control);  // [b, T, N]
    counts.loss_sum +=
        LossOf(logits, chunk.tensors.targets,
               F::CrossEntropyFuncOptions().reduction(torch::kSum))
            .item<double>();
    torch::Tensor predictions =
        logits.argmax(-1).reshape({-1}).to(torch::kCPU).contiguous();
    counts.Add(predictions.data_ptr<int64_t>(), chunk.windows);
  }
  model.train();
  return counts;
}

// The job config minus the keys a resumed job may change. The JSON is read
// into a JobConfig first, so that a checkpoint written before a key was
// added to the registry (its default then implied) matches.
std::string ResumeKey(const std::string& config_json) {
  config::JobConfig parsed;
  const std::string canonical =
      config::JobConfig::FromJson(config_json, &parsed).empty() ? parsed.ToJson() : config_json;
  nlohmann::json json = nlohmann::json::parse(canonical, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return config_json;
  json.erase("epochs");
  return json.dump();
}

class Run {
 public:
  Run(const TrainerOptions& options, std::ostream& out, std::ostream& log)
      : options_(options), out_(out), log_(log), job_(options.job) {}

  int Main();
  int64_t global_step() const { return state_.global_step; }

 private:
  int Setup();
  int Resume();
  int Loop();
  void Step();
  void Checkpoint();
  bool EpochStopRequested() const {
    std::error_code error;
    return !options_.epoch_stop_file.empty() &&
           std::filesystem::exists(options_.epoch_stop_file, error);
  }
  void Summary();

  bool StopRequested() const {
    return options_.stop != nullptr &&
           options_.stop->load(std::memory_order_relaxed);
  }

  const TrainerOptions& options_;
  std::ostream& out_;
  std::ostream& log_;
  config::JobConfig job_;
  torch::Device device_{torch::kCPU};
  std::shared_ptr<models::SequenceModel> model_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::unique_ptr<WindowSource> sampler_;
  tasks::WindowBatch windows_;
  std::vector<EvalChunk> eval_set_;
  LoopState state_;
  int64_t parameters_ = 0;
  int64_t last_checkpoint_step_ = -1;
  Clock::time_point start_ = Clock::now();
};

int Run::Main() {
  if (int code = Setup(); code != kExitDone) return code;
  if (options_.resume) {
    if (int code = Resume(); code != kExitDone) return code;
  }
  return Loop();
}

int Run::Setup() {
  job_.ResolveDefaults();
  if (std::string error = job_.Validate(); !error.empty()) {
    log_ << "switchyard-train: bad config: " << error << "\n";
    return kExitBadConfig;
  }
  // A job for another program reached this one: a worker's --program table
  // maps that name to switchyard-train, or someone ran it by hand.
  if (job_.Str("program") != config::kBuiltinProgram) {
    log_ << "switchyard-train: bad config: program: the job is for '" << job_.Str("program")
         << "', and this is " << config::kBuiltinProgram << "\n";
    return kExitBadConfig;
  }
  if (options_.resume && options_.checkpoint_dir.empty()) {
    log_ << "switchyard-train: --resume needs --checkpoint-dir\n";
    return kExitBadConfig;
  }
  models::KernelPath kernels;
  if (!models::ParseKernelPath(options_.kernels, &kernels)) {
    log_ << "switchyard-train: --kernels: unknown kernel path '"
         << options_.kernels << "'; known: fused, reference\n";
    return kExitBadConfig;
  }
  int device_exit = kExitBadConfig;
  if (std::string error = ParseDevice(options_.device, &device_, &device_exit);
      !error.empty()) {
    log_ << "switchyard-train: " << error << "\n";
    return device_exit;
  }
  // Seeded before construction: the initial weights are a function of the
  // seed. Nothing draws from LibTorch's generator after this (no dropout).
  torch::manual_seed(static_cast<uint64_t>(job_.Int("seed")));
  // The config is valid, so its model builds: no second check here.
  model_ = models::MakeModel(models::SpecOf(job_.Model(), kernels));
  model_->to(device_);
  parameters_ = models::CountParameters(*model_);
  optimizer_ = std::make_unique<torch::optim::Adam>(
      model_->parameters(), torch::optim::AdamOptions(job_.Float("lr")));
  sampler_ = MakeWindowSource(job_, static_cast<uint64_t>(job_.Int("seed")));
  state_.config_json = job_.ToJson();
  const models::ResolvedSpec& spec = model_->spec();
  log_ << "switchyard-train: " << models::ModelKindName(spec.kind);
  if (models::UsesAttention(spec.kind)) {
    log_ << " (" << models::AttentionKindName(spec.attention) << " attention, "
         << models::KernelPathName(spec.kernels) << ")";
  }
  log_ << ", preset " << job_.Str("preset") << ": layers " << spec.sizes.layers
       << ", width " << spec.sizes.width;
  if (spec.sizes.heads > 0) log_ << ", heads " << spec.sizes.heads;
  if (spec.sizes.ffn_width > 0) log_ << ", ffn_width " << spec.sizes.ffn_width;
  log_ << "; " << parameters_ << " parameters; " << DescribeTask(job_)
       << "; device " << device_.str() << ", " << torch::get_num_threads()
       << " thread(s)\n";
  return kExitDone;
}

int Run::Resume() {
  auto checkpoints = ListCheckpoints(options_.checkpoint_dir);
  if (checkpoints.empty()) {
    log_ << "switchyard-train: no checkpoint in " << options_.checkpoint_dir
         << "; starting from step 0\n";
    return kExitDone;
  }
  for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
    LoopState loaded;
    try {
      ReadCheckpoint(it->second, device_, *model_, *optimizer_, &loaded);
    } catch (const c10::Error& e) {
      log_ << "switchyard-train: skipping unreadable checkpoint " << it->second
           << ": " << e.what_without_backtrace() << "\n";
      continue;
    }
    if (ResumeKey(loaded.config_json) != ResumeKey(state_.config_json)) {
      log_ << "switchyard-train: checkpoint " << it->second
           << " belongs to another job config; refusing to resume\n  "
           << "checkpoint: " << loaded.config_json
           << "\n  this job: " << state_.config_json << "\n";
      return kExitBadConfig;
    }
    if (!sampler_->LoadState(loaded.sampler_state)) {
      log_ << "switchyard-train: checkpoint " << it->second
           << " holds a malformed sampler state\n";
      return kExitFailed;
    }
    loaded.config_json = state_.config_json;  // "epochs" may have changed
    state_ = std::move(loaded);
    last_checkpoint_step_ = state_.global_step;
    log_ << "switchyard-train: resumed from " << it->second << " (step "
         << state_.global_step << ", epoch " << state_.epoch << ")\n";
    return kExitDone;
  }
  log_ << "switchyard-train: no readable checkpoint in "
       << options_.checkpoint_dir << "\n";
  return kExitFailed;
}

void Run::Step() {
  sampler_->Sample(static_cast<int>(job_.Int("batch_size")), &windows_);
  Batch batch = ToBatch(windows_, device_);
  torch::Tensor logits =
      model_->Forward(batch.ids, batch.control);  // [B, T, N]
  torch::Tensor loss =
      LossOf(logits, batch.targets, F::CrossEntropyFuncOptions());
  if (state_.global_step == job_.Int("debug_nan_at_step")) {
    loss = loss * std::numeric_limits<double>::quiet_NaN();
  }
  const double value = loss.item<double>();
  if (!std::isfinite(value)) {
    throw TrainingFailure{"loss is " + std::to_string(value) + " at step " +
                          std::to_string(state_.global_step)};
  }
  optimizer_->zero_grad();
  loss.backward();
  optimizer_->step();
  state_.loss_sum += value;
  ++state_.step_in_epoch;
  ++state_.global_step;
}

void Run::Checkpoint() {
  if (options_.checkpoint_dir.empty() ||
      last_checkpoint_step_ == state_.global_step) {
    return;
  }
  // A state with a non-finite weight would fail every attempt that resumes
  // from it (the next loss is NaN): write none, so that a resume takes the
  // last good checkpoint, and let the next step's loss check report it.
  // tests/e2e/slurm's drains left such a checkpoint in about half the runs
  // (the cause, an update poisoned at the drain, is still open).
  torch::NoGradGuard no_grad;
  for (const torch::Tensor& p : model_->parameters()) {
    if (!torch::isfinite(p).all().item<bool>()) {
      log_ << "switchyard-train: no checkpoint at step " << state_.global_step
           << ": a weight is not finite\n";
      return;
    }
  }
  state_.sampler_state = sampler_->SaveState();
  std::string path;
  std::string error =
      WriteCheckpoint(options_.checkpoint_dir, state_, *model_, *optimizer_,
                      options_.keep_checkpoints, &path);
  if (!error.empty()) throw TrainingFailure{error};
  last_checkpoint_step_ = state_.global_step;
  Json line = Json::object();
  line["checkpoint"] = path;
  line["step"] = state_.global_step;
  WriteLine(out_, line);
}

void Run::Summary() {
  Json line = Json::object();
  line["summary"] = true;
  line["parameters"] = parameters_;
  line["epochs"] = state_.epoch;
  line["step"] = state_.global_step;
  line["final"] = state_.last_metrics.empty()
                      ? Json(nullptr)
                      : Json::parse(state_.last_metrics);
  line["wall_seconds"] = Seconds(Clock::now() - start_);
  WriteLine(out_, line);
}

int Run::Loop() {
  const int64_t epochs = job_.Int("epochs");
  const int64_t steps_per_epoch = job_.Int("steps_per_epoch");
  const int64_t checkpoint_every = job_.Int("checkpoint_every");
  const int64_t batch_size = job_.Int("batch_size");
  model_->train();
  while (state_.epoch < epochs) {
    if (eval_set_.empty()) {
      eval_set_ =
          MakeEvalSet(job_, static_cast<uint64_t>(job_.Int("eval_seed")),
                      job_.Int("eval_windows"), device_);
    }
    int64_t steps_here = 0;  // this process's steps of this epoch
    Clock::duration step_time{};
    while (state_.step_in_epoch < steps_per_epoch) {
      if (StopRequested()) {
        Checkpoint();
        log_ << "switchyard-train: stopped on request at step "
             << state_.global_step << "\n";
        return kExitStopped;
      }
      const Clock::time_point begin = Clock::now();
      Step();
      step_time += Clock::now() - begin;
      ++steps_here;
      if (checkpoint_every > 0 && state_.global_step % checkpoint_every == 0 &&
          state_.step_in_epoch < steps_per_epoch) {
        Checkpoint();  // the epoch's end writes its own
      }
      if (options_.after_step) options_.after_step(state_.global_step);
    }
    Json line = Json::object();
    line["epoch"] = state_.epoch + 1;
    line["step"] = state_.global_step;
    line["loss"] = state_.loss_sum / static_cast<double>(steps_per_epoch);
    Json metrics = MetricsJson(Evaluate(*model_, eval_set_));
    for (auto& [key, value] : metrics.items()) line[key] = value;
    const double seconds = Seconds(step_time);
    line["samples_per_sec"] =
        seconds > 0
            ? Json(static_cast<double>(steps_here * batch_size) / seconds)
            : Json(nullptr);
    WriteLine(out_, line);
    log_ << "switchyard-train: epoch " << state_.epoch + 1 << "/" << epochs
         << " step " << state_.global_step << " loss "
         << line["loss"].get<double>() << " accuracy "
         << line["accuracy"].dump() << "\n";
    state_.last_metrics = metrics.dump();
    ++state_.epoch;
    state_.step_in_epoch = 0;
    state_.loss_sum = 0;
    Checkpoint();
    if (state_.epoch < epochs && EpochStopRequested()) {
      log_ << "switchyard-train: stopped by the sweep's scheduler after epoch "
           << state_.epoch << "\n";
      return kExitStopped;
    }
  }
  Summary();
  return kExitDone;
}

}  // namespace

int RunTraining(const TrainerOptions& options, std::ostream& out,
                std::ostream& log) {
  Run run(options, out, log);
  auto fail = [&](const std::string& message) {
    log << "switchyard-train: training failed: " << message << "\n";
    Json line = Json::object();
    line["error"] = message;
    line["exit_code"] = static_cast<int>(kExitFailed);
    line["step"] = run.global_step();
    WriteLine(out, line);
    return static_cast<int>(kExitFailed);
  };
  // The border: nothing LibTorch throws gets past here.
  try {
    return run.Main();
  } catch (const TrainingFailure& failure) {
    return fail(failure.message);
  } catch (const c10::Error& e) {
    return fail(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

int SetTorchThreads(int threads) {
  if (threads <= 0) {
    threads = std::max(1u, std::thread::hardware_concurrency());
  }
  torch::set_num_threads(threads);
  static std::once_flag interop_once;
  std::call_once(interop_once, [threads] {
    try {
      torch::set_num_interop_threads(threads);
    } catch (const c10::Error&) {
      // Already fixed by earlier inter-op work; intra-op is what matters.
    }
  });
  return torch::get_num_threads();
}

void KeepFreedMemory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
#endif
}

}  // namespace switchyard::worker::train
