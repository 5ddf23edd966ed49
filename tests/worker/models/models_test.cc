#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <tuple>

#include "worker/models/cisformer.h"
#include "worker/models/model.h"
#include "worker/models/presets.h"

namespace switchyard::worker::models {
namespace {

constexpr int kVocab = 20;    // d
constexpr int kNumbers = 16;  // N for IARC
constexpr int kContext = 24;  // Nc

ModelSpec Spec(const std::string& model, const std::string& attention,
               const std::string& preset = "small") {
  ModelSpec spec;
  spec.model = model;
  spec.attention = attention;
  spec.preset = preset;
  spec.vocab = kVocab;
  spec.numbers = kNumbers;
  spec.context_length = kContext;
  return spec;
}

std::shared_ptr<SequenceModel> Make(const ModelSpec& spec) {
  std::string error;
  auto model = MakeModel(spec, &error);
  EXPECT_NE(model, nullptr) << error;
  return model;
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
  ModelSpec spec = Spec("transformer", "softmax", "paper");
  spec.layers = 1;
  spec.width = 8;
  spec.heads = 2;
  spec.ffn_width = 16;
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
    EXPECT_TRUE(torch::allclose(y.select(1, t), expected, 1e-5, 1e-6)) << t;
  }
}

std::string ErrorOf(const ModelSpec& spec) {
  std::string error;
  EXPECT_EQ(MakeModel(spec, &error), nullptr);
  return error;
}

TEST(MakeModelTest, RejectsBadSpecsWithClearErrors) {
  EXPECT_EQ(ErrorOf(Spec("lstn", "auto")),
            "model: unknown model 'lstn'; known: mlp, lstm, transformer, "
            "cisformer");
  EXPECT_EQ(ErrorOf(Spec("lstm", "softmax")).rfind("attention: model lstm", 0),
            0u);
  EXPECT_EQ(ErrorOf(Spec("mlp", "expressive")).rfind("attention:", 0), 0u);
  EXPECT_EQ(ErrorOf(Spec("transformer", "none")).rfind("attention:", 0), 0u);
  EXPECT_EQ(ErrorOf(Spec("transformer", "sofmax")).rfind("attention:", 0), 0u);
  EXPECT_EQ(ErrorOf(Spec("mlp", "none", "huge")).rfind("preset:", 0), 0u);

  ModelSpec zero_layers = Spec("transformer", "softmax");
  zero_layers.layers = 0;
  EXPECT_EQ(ErrorOf(zero_layers).rfind("layers: must be at least 1", 0), 0u);

  ModelSpec bad_heads = Spec("cisformer", "expressive", "paper");
  bad_heads.heads = 3;
  EXPECT_EQ(ErrorOf(bad_heads), "heads: 3 does not divide width 20");

  ModelSpec bad_width = Spec("transformer", "softmax");
  bad_width.width = 30;  // small preset: 4 heads
  EXPECT_EQ(ErrorOf(bad_width), "heads: 4 does not divide width 30");

  // Sizes a family does not take are ignored; auto attention resolves.
  ModelSpec spec = Spec("lstm", "auto");
  spec.heads = 3;  // not an LSTM size
  ResolvedSpec resolved;
  ASSERT_EQ(ResolveSpec(spec, &resolved), "");
  EXPECT_EQ(resolved.attention, AttentionKind::kNone);
  EXPECT_EQ(resolved.sizes.heads, 0);
  ASSERT_EQ(ResolveSpec(Spec("cisformer", "auto"), &resolved), "");
  EXPECT_EQ(resolved.attention, AttentionKind::kSoftmax);

  // Both presets exist for every family.
  for (ModelKind kind : {ModelKind::kMlp, ModelKind::kLstm,
                         ModelKind::kTransformer, ModelKind::kCisformer}) {
    EXPECT_NE(FindPreset("paper", kind), nullptr) << ModelKindName(kind);
    EXPECT_NE(FindPreset("small", kind), nullptr) << ModelKindName(kind);
  }
}

}  // namespace
}  // namespace switchyard::worker::models
