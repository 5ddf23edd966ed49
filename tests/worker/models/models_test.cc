#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <tuple>

#include "tests/worker/models/float_compare.h"
#include "worker/models/cisformer.h"
#include "worker/models/model.h"
#include "common/config/job_config.h"
#include "worker/models/kinds.h"

namespace switchyard::worker::models {
namespace {

constexpr int kVocab = 20;    // d
constexpr int kNumbers = 16;  // N for IARC
constexpr int kContext = 24;  // Nc

// A job config of the default task options (d = 20, IARC, Nc = 24).
config::JobConfig Spec(const std::string& model, const std::string& attention,
                       const std::string& preset = "small") {
  config::JobConfig job;
  EXPECT_EQ(job.Set("model", model), "");
  EXPECT_EQ(job.Set("attention", attention), "");
  EXPECT_EQ(job.Set("preset", preset), "");
  return job;
}

std::shared_ptr<SequenceModel> Make(const config::JobConfig& job) {
  ResolvedSpec spec;
  const std::string error = SpecOfJob(job, KernelPath::kFused, &spec);
  EXPECT_EQ(error, "");
  if (!error.empty()) return nullptr;
  return MakeModel(spec);
}

// (model, attention, attached layout)
using CausalCase = std::tuple<std::string, std::string, bool>;

// One test case for all models (each case is a process under ctest, and
// loading LibTorch costs about a second).
TEST(CausalityTest, LaterInputsDoNotChangeEarlierOutputs) {
  for (const auto& [name, attention, attached] :
       std::vector<CausalCase>{{"mlp", "none", false},
                               {"mlp", "none", true},
                               {"lstm", "none", false},
                               {"lstm", "none", true},
                               {"transformer", "softmax", false},
                               {"transformer", "softmax", true},
                               {"transformer", "expressive", false},
                               {"transformer", "expressive", true},
                               {"cisformer", "softmax", false},
                               {"cisformer", "softmax", true},
                               {"cisformer", "expressive", false},
                               {"cisformer", "expressive", true}}) {
    SCOPED_TRACE(name + "/" + attention +
                 (attached ? "/attached" : "/separate"));
    torch::manual_seed(7);
    auto model = Make(Spec(name, attention));
    ASSERT_NE(model, nullptr);
    torch::NoGradGuard no_grad;
    const int64_t batch = 3;
    torch::Tensor ids = torch::randint(kVocab, {batch, kContext}, torch::kLong);
    torch::Tensor control;
    if (attached) {
      // Control ids N..d-1 on some positions, -1 elsewhere.
      torch::Tensor which = torch::randint(2, {batch, kContext}, torch::kLong);
      control = torch::where(
          which.eq(1),
          torch::randint(kNumbers, kVocab, {batch, kContext}, torch::kLong),
          torch::full({batch, kContext}, -1, torch::kLong));
    }
    torch::Tensor base = model->Forward(ids, control);
    ASSERT_EQ(base.sizes(), (torch::IntArrayRef{batch, kContext, kNumbers}));
    for (int64_t t : {0, 5, 11, 22}) {
      const int64_t rest = kContext - t - 1;
      torch::Tensor changed = ids.clone();
      changed.narrow(1, t + 1, rest)
          .copy_((changed.narrow(1, t + 1, rest) + 7) % kVocab);
      torch::Tensor changed_control = control;
      if (attached) {
        changed_control = control.clone();
        changed_control.narrow(1, t + 1, rest).fill_(kNumbers);
      }
      torch::Tensor out = model->Forward(changed, changed_control);
      const float before = (out.narrow(1, 0, t + 1) - base.narrow(1, 0, t + 1))
                               .abs()
                               .max()
                               .item<float>();
      const float after =
          (out.narrow(1, t + 1, rest) - base.narrow(1, t + 1, rest))
              .abs()
              .max()
              .item<float>();
      EXPECT_LE(before, 1e-6) << "position <= " << t << " saw the future";
      EXPECT_GT(after, 1e-6) << "the change after " << t << " had no effect";
    }
  }
}

TEST(ModelShapeTest, ShorterWindowsAndGradients) {
  for (const char* name : {"mlp", "lstm", "transformer", "cisformer"}) {
    auto model = Make(Spec(name, "auto"));
    ASSERT_NE(model, nullptr);
    torch::Tensor ids = torch::randint(kVocab, {5, 10}, torch::kLong);
    torch::Tensor out = model->Forward(ids, {});
    EXPECT_EQ(out.sizes(), (torch::IntArrayRef{5, 10, kNumbers})) << name;
    out.sum().backward();
    for (const auto& p : model->parameters()) {
      ASSERT_TRUE(p.grad().defined()) << name;
      EXPECT_FALSE(p.grad().isnan().any().item<bool>()) << name;
    }
  }
}

// Exact counts of the paper presets for d = 20, N = 16, Nc = 24; the
// arithmetic is in docs/models.md.
TEST(ParameterCountTest, PresetsMatchTheSpecAndSizesOverrideThem) {
  struct Case {
    const char* model;
    int64_t exact;
    double spec;  // the paper's size (specs/iarc.md)
  };
  for (const Case& c :
       {Case{"mlp", 1908096, 1.9e6}, Case{"lstm", 3692036, 3.7e6},
        Case{"transformer", 1301356, 1.3e6}}) {
    auto model = Make(Spec(c.model, "auto", "paper"));
    ASSERT_NE(model, nullptr);
    const int64_t count = CountParameters(*model);
    EXPECT_EQ(count, c.exact) << c.model;
    EXPECT_NEAR(count / c.spec, 1.0, 0.10) << c.model;
  }

  // Cisformer: per-position maps: 24 x (QKV 1260 + out 420 + FFN 54600 + 52020)
  // per layer, shared LayerNorms, input and read-out.
  auto cisformer = Make(Spec("cisformer", "expressive", "paper"));
  ASSERT_NE(cisformer, nullptr);
  EXPECT_EQ(CountParameters(*cisformer),
            12 * (80 + 24 * (1260 + 420 + 54600 + 52020)) + 420 + 40 + 336);

  // Explicit sizes override the preset.
  config::JobConfig spec = Spec("transformer", "softmax", "paper");
  ASSERT_EQ(spec.Set("layers", int64_t{1}), "");
  ASSERT_EQ(spec.Set("width", int64_t{8}), "");
  ASSERT_EQ(spec.Set("heads", int64_t{2}), "");
  ASSERT_EQ(spec.Set("ffn_width", int64_t{16}), "");
  auto custom = Make(spec);
  ASSERT_NE(custom, nullptr);
  // input 20*8+8, block 16 + 216 + 72 + 16 + 144 + 136, norm 16, head 8*16+16
  EXPECT_EQ(CountParameters(*custom), 168 + 600 + 16 + 144);
}

TEST(PositionwiseLinearTest, EachPositionUsesItsOwnWeights) {
  torch::manual_seed(3);
  PositionwiseLinear map(6, 4, 3);
  torch::Tensor x = torch::randn({2, 5, 4});
  torch::Tensor y = map.forward(x);
  ASSERT_EQ(y.sizes(), (torch::IntArrayRef{2, 5, 3}));
  auto params = map.named_parameters();
  torch::Tensor w = params["weight"];
  torch::Tensor b = params["bias"];
  for (int t = 0; t < 5; ++t) {
    torch::Tensor expected = torch::matmul(x.select(1, t), w[t]) + b[t];
    // Sums of 4 products, two kernels (float_compare.h).
    EXPECT_TRUE(CloseInFloat(y.select(1, t), expected, 4)) << t;
  }
}

// The job config's parameter count (what submit checks against its limit)
// is what the trainer builds, for every preset and family and for sizes
// and task options away from the presets.
TEST(ParameterCountTest, TheConfigsCountIsTheBuiltModels) {
  std::vector<config::JobConfig> jobs;
  for (const std::string& preset : config::PresetNames()) {
    for (const char* model : {"mlp", "lstm", "transformer", "cisformer"}) {
      jobs.push_back(Spec(model, "auto", preset));
    }
  }
  for (const char* model : {"mlp", "lstm", "transformer", "cisformer"}) {
    config::JobConfig job = Spec(model, "auto");
    EXPECT_EQ(job.Set("layers", int64_t{3}), "");
    EXPECT_EQ(job.Set("width", int64_t{12}), "");
    EXPECT_EQ(job.Set("heads", int64_t{3}), "");
    EXPECT_EQ(job.Set("ffn_width", int64_t{7}), "");
    EXPECT_EQ(job.Set("tasks", std::string("IA")), "");
    EXPECT_EQ(job.Set("d", int64_t{9}), "");
    EXPECT_EQ(job.Set("context_length", int64_t{5}), "");
    jobs.push_back(job);
  }
  config::JobConfig positions = Spec("transformer", "softmax");
  EXPECT_EQ(positions.Set("positions", std::string("learned")), "");
  EXPECT_EQ(positions.Set("task", std::string("index_lookup")), "");
  jobs.push_back(positions);
  for (const config::JobConfig& job : jobs) {
    if (job.Str("model") == "cisformer" && job.Str("preset") == "paper") continue;  // 31M: slow
    auto model = Make(job);
    ASSERT_NE(model, nullptr);
    EXPECT_EQ(CountParameters(*model),
              static_cast<int64_t>(config::ParameterCount(job.Model())))
        << job.ToJson();
  }
}

// The trainer builds exactly the shape the config resolved.
TEST(SpecOfTest, MapsTheResolvedShape) {
  config::JobConfig job = Spec("lstm", "auto", "paper_matched");
  ASSERT_EQ(job.Set("heads", int64_t{3}), "");  // not an LSTM size: ignored
  ResolvedSpec spec;
  ASSERT_EQ(SpecOfJob(job, KernelPath::kReference, &spec), "");
  EXPECT_EQ(spec.kind, ModelKind::kLstm);
  EXPECT_EQ(spec.attention, AttentionKind::kNone);
  EXPECT_EQ(spec.kernels, KernelPath::kReference);
  EXPECT_EQ(spec.sizes, (ModelSizes{2, 324, 0, 0, 20}));
  EXPECT_EQ(spec.vocab, kVocab);
  EXPECT_EQ(spec.numbers, kNumbers);
  EXPECT_EQ(spec.context_length, kContext);
  ASSERT_EQ(SpecOfJob(Spec("cisformer", "auto"), KernelPath::kFused, &spec), "");
  EXPECT_EQ(spec.attention, AttentionKind::kSoftmax);

  // A bad job gets the config's one message.
  config::JobConfig bad = Spec("transformer", "softmax");
  ASSERT_EQ(bad.Set("width", int64_t{30}), "");
  EXPECT_EQ(SpecOfJob(bad, KernelPath::kFused, &spec), bad.Validate());
}

}  // namespace
}  // namespace switchyard::worker::models
