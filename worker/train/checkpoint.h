// Checkpoints of one training job: files `ckpt-<step>.pt` in a folder, each a
// LibTorch archive holding the model weights, the Adam state, the sampler
// state, LibTorch's CPU generator state and the loop counters
// (docs/trainer.md). A file is written under a temporary name and renamed, so
// a reader never sees a partial checkpoint.
//
// Thread safety: functions are reentrant; concurrent writers to the same
// folder are not supported (one trainer process per folder).
// Errors: filesystem problems return a message ("" = ok); LibTorch's
// (de)serialisation throws c10::Error, which the trainer catches at its
// border.
#ifndef SWITCHYARD_WORKER_TRAIN_CHECKPOINT_H_
#define SWITCHYARD_WORKER_TRAIN_CHECKPOINT_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace switchyard::worker::train {

// Everything besides weights and optimizer state that resuming needs.
struct LoopState {
  int64_t global_step = 0;    // steps done since the job began
  int64_t epoch = 0;          // epochs completed
  int64_t step_in_epoch = 0;  // steps of the current epoch done
  double loss_sum = 0;        // sum of those steps' training losses
  std::string sampler_state;  // tasks::WindowSampler::SaveState()
  std::string config_json;    // config::JobConfig::ToJson() of the job
  std::string last_metrics;   // JSON of the last epoch's metrics, "" if none
};

// "<dir>/ckpt-<step>.pt".
std::string CheckpointPath(const std::string& dir, int64_t step);

// The checkpoints in `dir`, oldest first, as (step, path). Only names of the
// exact form ckpt-<digits>.pt count. A missing folder gives an empty list.
std::vector<std::pair<int64_t, std::string>> ListCheckpoints(
    const std::string& dir);

// Writes a checkpoint for state.global_step (creating `dir` if needed),
// then deletes all but the newest `keep` checkpoints. Sets *path.
// Returns "" or a filesystem error message; throws c10::Error from LibTorch.
std::string WriteCheckpoint(const std::string& dir, const LoopState& state,
                            torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, int keep,
                            std::string* path);

// Loads a checkpoint written by WriteCheckpoint into the model, the
// optimizer (both already built for the same spec) and *state, placing
// tensors on `device`. Restores LibTorch's CPU generator. Throws c10::Error
// on a malformed file.
void ReadCheckpoint(const std::string& path, const torch::Device& device,
                    torch::nn::Module& model,
                    torch::optim::Optimizer& optimizer, LoopState* state);

}  // namespace switchyard::worker::train

#endif  // SWITCHYARD_WORKER_TRAIN_CHECKPOINT_H_
