// Model families, attention kinds and kernel paths as enums, and their names.
// The size presets are the job config's (common/config/presets.h): the
// config resolves a job's sizes, and the trainer builds what it resolved.
// Torch-free, so it is cheap to include anywhere in the trainer.
//
// Thread safety: everything here is immutable after static initialisation.
#ifndef SWITCHYARD_WORKER_MODELS_KINDS_H_
#define SWITCHYARD_WORKER_MODELS_KINDS_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/config/presets.h"

namespace switchyard::worker::models {

enum class ModelKind { kMlp, kLstm, kTransformer, kCisformer };
enum class AttentionKind { kNone, kSoftmax, kExpressive };
// How the transformer and the cisformer compute attention: the same function
// either way (docs/models.md). kFused: custom operations (fused_attention.h,
// fused_feed_forward.h) and matrix products through oneDNN (cpu_gemm.h), CPU
// only; on other devices the model uses the reference. kReference: plain
// LibTorch ops (attention.h, torch::nn::Linear).
enum class KernelPath { kFused, kReference };

// Sizes of one model: the job config owns them (common/config/presets.h).
using ModelSizes = config::ModelSizes;

// Name <-> enum. Parse* return false on an unknown name.
bool ParseModelKind(std::string_view name, ModelKind* out);
bool ParseAttentionKind(std::string_view name, AttentionKind* out);
bool ParseKernelPath(std::string_view name, KernelPath* out);
const char* ModelKindName(ModelKind kind);
const char* AttentionKindName(AttentionKind kind);
const char* KernelPathName(KernelPath impl);
bool UsesAttention(ModelKind kind);  // transformer and cisformer

}  // namespace switchyard::worker::models

#endif  // SWITCHYARD_WORKER_MODELS_KINDS_H_
