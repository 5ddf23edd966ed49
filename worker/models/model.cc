#include "worker/models/model.h"

#include "worker/models/cpu_gemm.h"

#include <sstream>

#include "worker/models/cisformer.h"
#include "worker/models/lstm.h"
#include "worker/models/mlp.h"
#include "worker/models/transformer.h"

namespace switchyard::worker::models {
namespace {

// Applies an explicit size over the preset's; "" or "<key>: ..." on error.
std::string Override(const char* key, const std::optional<int>& given,
                     int* size) {
  if (!given.has_value()) return "";
  if (*given < 1) {
    std::ostringstream message;
    message << key << ": must be at least 1 (got " << *given
            << "; 0 in a job config means the preset's value)";
    return message.str();
  }
  *size = *given;
  return "";
}

std::string CheckPositive(const char* key, int value, const char* what) {
  if (value >= 1) return "";
  std::ostringstream message;
  message << key << ": " << what << " must be at least 1 (got " << value << ")";
  return message.str();
}

}  // namespace

std::string ResolveSpec(const ModelSpec& spec, ResolvedSpec* out) {
  ResolvedSpec r;
  if (!ParseModelKind(spec.model, &r.kind)) {
    return "model: unknown model '" + spec.model +
           "'; known: mlp, lstm, transformer, cisformer";
  }
  const bool has_attention = UsesAttention(r.kind);
  if (spec.attention == "auto") {
    r.attention =
        has_attention ? AttentionKind::kSoftmax : AttentionKind::kNone;
  } else if (!ParseAttentionKind(spec.attention, &r.attention)) {
    return "attention: unknown attention '" + spec.attention +
           "'; known: auto, none, softmax, expressive";
  }
  if (!has_attention && r.attention != AttentionKind::kNone) {
    return std::string("attention: model ") + ModelKindName(r.kind) +
           " takes no attention (got '" + spec.attention +
           "'; use none or auto)";
  }
  if (has_attention && r.attention == AttentionKind::kNone) {
    return std::string("attention: model ") + ModelKindName(r.kind) +
           " needs softmax or expressive attention (got 'none')";
  }
  if (!ParseKernelPath(spec.kernels, &r.kernels)) {
    return "kernels: unknown kernel path '" +
           spec.kernels + "'; known: fused, reference";
  }
  const Preset* preset = FindPreset(spec.preset, r.kind);
  if (preset == nullptr) {
    return "preset: unknown preset '" + spec.preset + "'; known: paper, small";
  }
  r.sizes = preset->sizes;
  for (std::string error : {Override("layers", spec.layers, &r.sizes.layers),
                            Override("width", spec.width, &r.sizes.width)}) {
    if (!error.empty()) return error;
  }
  if (has_attention) {
    for (std::string error :
         {Override("heads", spec.heads, &r.sizes.heads),
          Override("ffn_width", spec.ffn_width, &r.sizes.ffn_width)}) {
      if (!error.empty()) return error;
    }
    if (r.sizes.width % r.sizes.heads != 0) {
      std::ostringstream message;
      message << "heads: " << r.sizes.heads << " does not divide width "
              << r.sizes.width;
      return message.str();
    }
  } else {
    // Unused sizes are ignored so that a sweep may cross them with models
    // that do not take them.
    r.sizes.heads = 0;
    r.sizes.ffn_width = 0;
  }
  for (std::string error :
       {CheckPositive("vocab", spec.vocab, "the token count d"),
        CheckPositive("numbers", spec.numbers, "the number count N"),
        CheckPositive("context_length", spec.context_length,
                      "the window length")}) {
    if (!error.empty()) return error;
  }
  if (spec.numbers > spec.vocab) {
    return "numbers: N must not exceed the token count d";
  }
  r.vocab = spec.vocab;
  r.numbers = spec.numbers;
  r.context_length = spec.context_length;
  *out = r;
  return "";
}

std::shared_ptr<SequenceModel> MakeModel(const ResolvedSpec& spec) {
  switch (spec.kind) {
    case ModelKind::kMlp:
      return std::make_shared<MlpModel>(spec);
    case ModelKind::kLstm:
      return std::make_shared<LstmModel>(spec);
    case ModelKind::kTransformer:
      return std::make_shared<TransformerModel>(spec);
    case ModelKind::kCisformer:
      return std::make_shared<CisformerModel>(spec);
  }
  return nullptr;
}

std::shared_ptr<SequenceModel> MakeModel(const ModelSpec& spec,
                                         std::string* error) {
  ResolvedSpec resolved;
  std::string problem = ResolveSpec(spec, &resolved);
  if (!problem.empty()) {
    if (error != nullptr) *error = problem;
    return nullptr;
  }
  return MakeModel(resolved);
}

torch::Tensor SequenceModel::ApplyLinear(torch::nn::Linear& layer,
                                         const torch::Tensor& x) {
  if (UseFused(x)) return FastLinear(x, layer->weight, layer->bias);
  return layer->forward(x);
}

int64_t CountParameters(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const torch::Tensor& p : module.parameters(/*recurse=*/true)) {
    count += p.numel();
  }
  return count;
}

}  // namespace switchyard::worker::models
