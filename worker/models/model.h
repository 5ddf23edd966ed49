// The sequence models of the IARC study (specs/iarc.md, docs/models.md) behind
// one interface, and the factory that builds them from a ModelSpec.
//
// Every model maps a window of token ids to logits over the N number tokens at
// every position, causally: the logits at position t depend only on inputs at
// positions 0..t. The first weight matrix of every model is used as a lookup
// table (row `id` of a [d, width] matrix), so the one-hot inputs of width d are
// never materialised.
//
// Ownership: MakeModel returns a shared_ptr the caller owns alone; a model owns
// its parameters. Threads: a model is not synchronised; use it from one thread
// at a time (LibTorch parallelises inside each op). Errors: MakeModel reports
// bad specs through its `error` argument and never throws; Forward throws
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

#include "worker/models/presets.h"

namespace switchyard::worker::models {

// What a job asks for. An empty size takes the preset's value (the job
// config's 0 maps to empty); a given size must be >= 1.
struct ModelSpec {
  std::string model;               // "mlp", "lstm", "transformer", "cisformer"
  std::string attention = "auto";  // "auto", "none", "softmax", "expressive"
  std::string preset = "small";    // "small" or "paper"
  // "fused" (default) or "reference": which kernels compute the model
  // (KernelPath); not a size and not part of the job config (the results are
  // the same up to float rounding; docs/models.md).
  std::string kernels = "fused";
  std::optional<int> layers;
  std::optional<int> width;
  std::optional<int> heads;
  std::optional<int> ffn_width;
  int vocab = 20;           // d: token ids are 0 .. d-1 (numbers and controls)
  int numbers = 16;         // N: the model predicts one of N numbers
  int context_length = 24;  // Nc: the longest window the model accepts
};

// A spec with the preset applied and the names parsed: what a model is built
// from. Fields that a family does not use are 0 (heads and ffn_width for mlp
// and lstm, input_width for mlp).
struct ResolvedSpec {
  ModelKind kind = ModelKind::kMlp;
  AttentionKind attention = AttentionKind::kNone;
  KernelPath kernels = KernelPath::kFused;
  ModelSizes sizes;
  int vocab = 0;
  int numbers = 0;
  int context_length = 0;
};

// Applies the preset and checks the result. Returns "" or one message naming
// the offending key, e.g. "heads: 3 does not divide width 20". Sizes the
// family does not use (heads and ffn_width for mlp and lstm) are ignored, so a
// sweep may cross models with those keys.
std::string ResolveSpec(const ModelSpec& spec, ResolvedSpec* out);

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
// the CPU. Returns nullptr and sets *error (when error != nullptr) for a bad
// spec: unknown model/attention/preset, attention given for mlp or lstm, a
// size <= 0, heads not dividing the width. "auto" attention means none for
// mlp and lstm and softmax for transformer and cisformer.
std::shared_ptr<SequenceModel> MakeModel(const ModelSpec& spec,
                                         std::string* error);
std::shared_ptr<SequenceModel> MakeModel(const ResolvedSpec& spec);

// Number of scalar parameters (trainable tensors, recursively).
int64_t CountParameters(const torch::nn::Module& module);

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_MODEL_H_
