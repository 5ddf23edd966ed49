#include "worker/models/kinds.h"

namespace switchyard::worker::models {

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
