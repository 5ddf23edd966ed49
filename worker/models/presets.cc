#include "worker/models/presets.h"

namespace switchyard::worker::models {

const std::vector<Preset>& AllPresets() {
  // `paper`: the sizes of specs/iarc.md (arithmetic in docs/models.md).
  // `small`: one CPU epoch (100 steps, batch 500, Nc = 24, 2 threads) in a
  // few seconds, still big enough to learn the single tasks.
  //                                  layers width heads ffn  input
  static const std::vector<Preset> kPresets = {
      {"paper", ModelKind::kMlp, {16, 340, 0, 0, 0}},
      {"paper", ModelKind::kLstm, {2, 550, 0, 0, 20}},
      {"paper", ModelKind::kTransformer, {12, 20, 4, 2600, 0}},
      {"paper", ModelKind::kCisformer, {12, 20, 4, 2600, 0}},
      {"small", ModelKind::kMlp, {3, 64, 0, 0, 0}},
      {"small", ModelKind::kLstm, {2, 64, 0, 0, 20}},
      {"small", ModelKind::kTransformer, {2, 32, 4, 64, 0}},
      {"small", ModelKind::kCisformer, {2, 32, 4, 64, 0}},
  };
  return kPresets;
}

const Preset* FindPreset(std::string_view name, ModelKind kind) {
  for (const Preset& preset : AllPresets()) {
    if (preset.name == name && preset.kind == kind) return &preset;
  }
  return nullptr;
}

bool ParseModelKind(std::string_view name, ModelKind* out) {
  if (name == "mlp") {
    *out = ModelKind::kMlp;
  } else if (name == "lstm") {
    *out = ModelKind::kLstm;
  } else if (name == "transformer") {
    *out = ModelKind::kTransformer;
  } else if (name == "cisformer") {
    *out = ModelKind::kCisformer;
  } else {
    return false;
  }
  return true;
}

bool ParseAttentionKind(std::string_view name, AttentionKind* out) {
  if (name == "none") {
    *out = AttentionKind::kNone;
  } else if (name == "softmax") {
    *out = AttentionKind::kSoftmax;
  } else if (name == "expressive") {
    *out = AttentionKind::kExpressive;
  } else {
    return false;
  }
  return true;
}

bool ParseKernelPath(std::string_view name, KernelPath* out) {
  if (name == "fused") {
    *out = KernelPath::kFused;
  } else if (name == "reference") {
    *out = KernelPath::kReference;
  } else {
    return false;
  }
  return true;
}

const char* ModelKindName(ModelKind kind) {
  switch (kind) {
    case ModelKind::kMlp:
      return "mlp";
    case ModelKind::kLstm:
      return "lstm";
    case ModelKind::kTransformer:
      return "transformer";
    case ModelKind::kCisformer:
      return "cisformer";
  }
  return "?";
}

const char* AttentionKindName(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::kNone:
      return "none";
    case AttentionKind::kSoftmax:
      return "softmax";
    case AttentionKind::kExpressive:
      return "expressive";
  }
  return "?";
}

const char* KernelPathName(KernelPath impl) {
  return impl == KernelPath::kFused ? "fused" : "reference";
}

bool UsesAttention(ModelKind kind) {
  return kind == ModelKind::kTransformer || kind == ModelKind::kCisformer;
}

}  // namespace switchyard::worker::models
