// Model families, attention kinds and the size presets, as data.
//
// A preset is one row of a table per (preset, family); code never branches on
// a preset's name. docs/models.md derives the parameter counts of the `paper`
// rows. Torch-free, so it is cheap to include anywhere in the trainer.
//
// Thread safety: everything here is immutable after static initialisation.
#ifndef SWITCHYARD_WORKER_MODELS_PRESETS_H_
#define SWITCHYARD_WORKER_MODELS_PRESETS_H_

#include <string>
#include <string_view>
#include <vector>

namespace switchyard::worker::models {

enum class ModelKind { kMlp, kLstm, kTransformer, kCisformer };
enum class AttentionKind { kNone, kSoftmax, kExpressive };
// How the transformer and the cisformer compute attention: the same function
// either way (docs/models.md). kFused: custom operations (fused_attention.h,
// fused_feed_forward.h) and matrix products through oneDNN (cpu_gemm.h), CPU
// only; on other devices the model uses the reference. kReference: plain
// LibTorch ops (attention.h, torch::nn::Linear).
enum class KernelPath { kFused, kReference };

// Sizes of one model. Meaning per family:
//   mlp:         layers = hidden layers, width = hidden width;
//   lstm:        layers = stacked LSTM layers, width = hidden size,
//                input_width = width of the input lookup feeding layer 1;
//   transformer, cisformer: layers = residual blocks, width = model width,
//                heads = attention heads, ffn_width = feed-forward width.
// Fields a family does not use are 0.
struct ModelSizes {
  int layers = 0;
  int width = 0;
  int heads = 0;
  int ffn_width = 0;
  int input_width = 0;
};

struct Preset {
  std::string_view name;
  ModelKind kind;
  ModelSizes sizes;
};

// The whole table, in a stable order (for docs and tests).
const std::vector<Preset>& AllPresets();
// nullptr when the (preset, family) pair is not in the table.
const Preset* FindPreset(std::string_view name, ModelKind kind);

// Name <-> enum. Parse* return false on an unknown name.
bool ParseModelKind(std::string_view name, ModelKind* out);
bool ParseAttentionKind(std::string_view name, AttentionKind* out);
bool ParseKernelPath(std::string_view name, KernelPath* out);
const char* ModelKindName(ModelKind kind);
const char* AttentionKindName(AttentionKind kind);
const char* KernelPathName(KernelPath impl);
bool UsesAttention(ModelKind kind);  // transformer and cisformer

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_PRESETS_H_
