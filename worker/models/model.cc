#include "worker/models/model.h"

#include "worker/models/cpu_gemm.h"

#include <cstdlib>
#include <iostream>

#include "worker/models/cisformer.h"
#include "worker/models/lstm.h"
#include "worker/models/mlp.h"
#include "worker/models/transformer.h"

namespace switchyard::worker::models {

ResolvedSpec SpecOf(const config::ModelShape& shape, KernelPath kernels) {
  ResolvedSpec spec;
  if (!ParseModelKind(shape.model, &spec.kind) ||
      !ParseAttentionKind(shape.attention, &spec.attention)) {
    std::cerr << "SpecOf: model '" << shape.model << "' / attention '"
              << shape.attention << "' not resolved by the job config (a bug)\n";
    std::abort();
  }
  spec.kernels = kernels;
  spec.sizes = shape.sizes;
  spec.vocab = shape.vocab;
  spec.numbers = shape.numbers;
  spec.context_length = shape.context_length;
  spec.learned_positions = shape.learned_positions;
  return spec;
}

std::string SpecOfJob(const config::JobConfig& job, KernelPath kernels,
                      ResolvedSpec* out) {
  if (std::string error = job.Validate(); !error.empty()) return error;
  *out = SpecOf(job.Model(), kernels);
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
