// The sequence models of the IARC study (specs/iarc.md, docs/models.md) behind
// one interface, and the factory that builds them from a ResolvedSpec.
//
// Every model maps a window of token ids to logits over the N number tokens at
// every position, causally: the logits at position t depend only on inputs at
// positions 0..t. The first weight matrix of every model is used as a lookup
// table (row `id` of a [d, width] matrix), so the one-hot inputs of width d are
// never materialised.
//
// Ownership: MakeModel returns a shared_ptr the caller owns alone; a model owns
// its parameters. Threads: a model is not synchronised; use it from one thread
// at a time (LibTorch parallelises inside each op). Errors: a spec comes from
// a validated job config, so MakeModel has none to report; Forward throws
// c10::Error on inputs that break its contract (the trainer catches those at
// its border).
#ifndef SWITCHYARD_WORKER_MODELS_MODEL_H_
#define SWITCHYARD_WORKER_MODELS_MODEL_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/config/job_config.h"
#include "worker/models/kinds.h"

namespace switchyard::worker::models {

// What a model is built from: a job's model (config::ModelShape) with the
// names parsed and the kernel path chosen. Fields that a family does not use
// are 0 (heads and ffn_width for mlp and lstm, input_width for mlp).
struct ResolvedSpec {
  ModelKind kind = ModelKind::kMlp;
  AttentionKind attention = AttentionKind::kNone;
  KernelPath kernels = KernelPath::kFused;
  ModelSizes sizes;
  int vocab = 0;
  int numbers = 0;
  int context_length = 0;
  bool learned_positions = false;  // transformer: a learned [Nc, width] embedding
};

// The spec of a model that the job config has resolved and validated
// (config::JobConfig::Validate, then Model()). No checks of its own: the
// config is the one owner of what a legal job is, and a shape it accepted
// builds. Aborts on a model or attention name the config does not know (a
// bug, not bad input).
ResolvedSpec SpecOf(const config::ModelShape& shape, KernelPath kernels);

// Validates `job` (its Validate() message on failure) and returns its spec:
// for tests and tools that build a model from a job config by hand.
std::string SpecOfJob(const config::JobConfig& job, KernelPath kernels,
                      ResolvedSpec* out);

class SequenceModel : public torch::nn::Module {
 public:
  explicit SequenceModel(const ResolvedSpec& spec) : spec_(spec) {}
  ~SequenceModel() override = default;

  // ids: [B, T] int64, values in 0 .. vocab-1, 1 <= T <= context_length.
  // control_ids: undefined (layout "separate"), or [B, T] int64 with -1 where
  // a position carries no control token (layout "attached").
  // Returns logits [B, T, numbers] (float, on the model's device).
  virtual torch::Tensor Forward(const torch::Tensor& ids,
                                const torch::Tensor& control_ids) = 0;

  const ResolvedSpec& spec() const { return spec_; }

 protected:
  // True when the fused kernels apply to `x`: spec().kernels is kFused and
  // x is on the CPU.
  bool UseFused(const torch::Tensor& x) const {
    return spec_.kernels == KernelPath::kFused && x.is_cpu();
  }
  // layer(x) on the path UseFused(x) picks (FastLinear or the module).
  torch::Tensor ApplyLinear(torch::nn::Linear& layer, const torch::Tensor& x);

 private:
  ResolvedSpec spec_;
};

// Builds the model the spec describes, its parameters initialised from
// LibTorch's default generator (seed it first for reproducible weights), on
// the CPU.
std::shared_ptr<SequenceModel> MakeModel(const ResolvedSpec& spec);

// Number of scalar parameters (trainable tensors, recursively).
int64_t CountParameters(const torch::nn::Module& module);

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_MODEL_H_
