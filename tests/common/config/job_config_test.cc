#include "common/config/job_config.h"

#include <gtest/gtest.h>

#include <cmath>

namespace switchyard::config {
namespace {

TEST(JobConfigTest, DefaultsCoverEveryRegisteredKey) {
  JobConfig config;
  for (const ParamSpec& spec : AllParams()) {
    EXPECT_EQ(config.Get(spec.name).index(), spec.default_value.index()) << spec.name;
  }
  EXPECT_EQ(config.Str("model"), "transformer");
  EXPECT_EQ(config.Int("d"), 20);
  EXPECT_EQ(config.Float("lr"), 1e-3);
}

TEST(JobConfigTest, UnknownKeySuggestsTheClosest) {
  JobConfig config;
  EXPECT_EQ(config.Set("modle", std::string("lstm")), "modle: unknown key; did you mean 'model'?");
  EXPECT_EQ(config.SetFromString("bach_size", "4"),
            "bach_size: unknown key; did you mean 'batch_size'?");
}

TEST(JobConfigTest, WrongKindsAndRangesNameTheKey) {
  JobConfig config;
  EXPECT_EQ(config.Set("lr", std::string("fast")), "lr: expected a number, got the string 'fast'");
  EXPECT_EQ(config.Set("lr", -1.0), "lr: -1 is out of range [1e-07, 10]");
  EXPECT_EQ(config.Set("epochs", 2.5), "epochs: expected an integer, got 2.5");
  EXPECT_EQ(config.Set("model", std::string("lstn")),
            "model: unknown value 'lstn'; known: mlp, lstm, transformer, cisformer");
  EXPECT_EQ(config.SetFromString("seed", "7x"), "seed: expected an integer, got '7x'");
  EXPECT_EQ(config.SetFromString("lr", "nan"), "lr: nan is out of range [1e-07, 10]");
}

TEST(JobConfigTest, IntegralFloatBecomesAnInteger) {
  JobConfig config;
  EXPECT_EQ(config.Set("epochs", 3.0), "");
  EXPECT_EQ(config.Int("epochs"), 3);
  EXPECT_EQ(config.Set("lr", int64_t{1}), "");
  EXPECT_EQ(config.Float("lr"), 1.0);
}

TEST(JobConfigTest, AttentionAutoResolvesPerModel) {
  JobConfig lstm;
  ASSERT_EQ(lstm.Set("model", std::string("lstm")), "");
  lstm.ResolveDefaults();
  EXPECT_EQ(lstm.Str("attention"), "none");
  EXPECT_EQ(lstm.Validate(), "");

  JobConfig transformer;
  transformer.ResolveDefaults();
  EXPECT_EQ(transformer.Str("attention"), "softmax");
  EXPECT_EQ(transformer.Validate(), "");
}

TEST(JobConfigTest, AttentionForAnLstmIsRefused) {
  JobConfig config;
  ASSERT_EQ(config.Set("model", std::string("lstm")), "");
  ASSERT_EQ(config.Set("attention", std::string("expressive")), "");
  EXPECT_EQ(config.Validate(),
            "attention: model lstm has no attention; use none (got 'expressive')");
}

TEST(JobConfigTest, TransformerNeedsAnAttentionKind) {
  JobConfig config;
  ASSERT_EQ(config.Set("attention", std::string("none")), "");
  EXPECT_EQ(config.Validate(),
            "attention: model transformer needs an attention kind; known: softmax, expressive");
}

TEST(JobConfigTest, HeadsMustDivideWidth) {
  JobConfig config;
  ASSERT_EQ(config.Set("width", int64_t{20}), "");
  ASSERT_EQ(config.Set("heads", int64_t{3}), "");
  EXPECT_EQ(config.Validate(), "heads: 3 does not divide width 20");
}

// Names other tools use get our key; a far-off name gets no hint at all.
TEST(JobConfigTest, DidYouMeanKnowsAliasesAndGivesNoFarOffHint) {
  for (const auto& [typed, meant] : std::vector<std::pair<std::string, std::string>>{
           {"learning_rate", "lr"},        {"num_layers", "layers"},  {"n_layers", "layers"},
           {"d_model", "width"},           {"hidden_size", "width"},  {"num_heads", "heads"},
           {"batch", "batch_size"},        {"steps", "steps_per_epoch"},
           {"model_type", "model"},        {"Learning-Rate", "lr"},   {"modle", "model"},
           {"bach_size", "batch_size"},    {"LR", "lr"},              {"sed", "seed"}}) {
    EXPECT_EQ(ClosestParam(typed), meant) << typed;
  }
  for (const char* far_off : {"optimizer", "weight_decay", "dropout", "momentum", "xyz"}) {
    EXPECT_EQ(ClosestParam(far_off), "") << far_off;
  }
  JobConfig config;
  EXPECT_EQ(config.Set("learning_rate", 0.01), "learning_rate: unknown key; did you mean 'lr'?");
  EXPECT_EQ(config.Set("dropout", 0.1), "dropout: unknown key");
}

// The effective job is checked: sizes the preset supplies count as much as
// sizes the job gives, and the message says which came from where.
TEST(JobConfigTest, PresetSizesAreCheckedLikeGivenOnes) {
  JobConfig width_given;  // the issue's w30 sweep: small preset, 4 heads
  ASSERT_EQ(width_given.Set("width", int64_t{30}), "");
  EXPECT_EQ(width_given.Validate(), "width: 30 is not divisible by heads (4, from preset small)");

  JobConfig heads_given;
  ASSERT_EQ(heads_given.Set("preset", std::string("paper")), "");
  ASSERT_EQ(heads_given.Set("heads", int64_t{3}), "");
  EXPECT_EQ(heads_given.Validate(), "heads: 3 does not divide width (20, from preset paper)");

  // heads and ffn_width do not apply to mlp and lstm: ignored, not refused.
  JobConfig lstm;
  ASSERT_EQ(lstm.Set("model", std::string("lstm")), "");
  ASSERT_EQ(lstm.Set("width", int64_t{30}), "");
  ASSERT_EQ(lstm.Set("heads", int64_t{7}), "");
  EXPECT_EQ(lstm.Validate(), "");
  EXPECT_EQ(lstm.Model().sizes.heads, 0);
  EXPECT_EQ(lstm.Model().sizes.width, 30);
}

TEST(JobConfigTest, ModelResolvesThePresetAndAuto) {
  JobConfig config;
  ASSERT_EQ(config.Set("model", std::string("cisformer")), "");
  ASSERT_EQ(config.Set("preset", std::string("paper_matched")), "");
  ASSERT_EQ(config.Set("layers", int64_t{3}), "");
  const ModelShape shape = config.Model();
  EXPECT_EQ(shape.attention, "softmax");
  EXPECT_EQ(shape.sizes, (ModelSizes{3, 20, 4, 68, 0}));
  EXPECT_EQ(shape.given, (ModelSizes{3, 0, 0, 0, 0}));
  EXPECT_EQ(shape.vocab, 20);
  EXPECT_EQ(shape.numbers, 16);
  EXPECT_EQ(shape.context_length, 24);
}

// docs/models.md's arithmetic, and the regime the paper compares in: every
// family of paper_matched within 2% of the paper transformer.
TEST(JobConfigTest, ParameterCountsOfThePresets) {
  auto count = [](const std::string& model, const std::string& preset) {
    JobConfig config;
    EXPECT_EQ(config.Set("model", model), "");
    EXPECT_EQ(config.Set("preset", preset), "");
    return static_cast<int64_t>(ParameterCount(config.Model()));
  };
  EXPECT_EQ(count("mlp", "paper"), 1908096);
  EXPECT_EQ(count("lstm", "paper"), 3692036);
  EXPECT_EQ(count("transformer", "paper"), 1301356);
  EXPECT_EQ(count("cisformer", "paper"), 31192156);
  EXPECT_EQ(count("mlp", "small"), 40144);
  EXPECT_EQ(count("lstm", "small"), 56756);
  EXPECT_EQ(count("transformer", "small"), 18352);
  EXPECT_EQ(count("cisformer", "small"), 405488);
  const double transformer = count("transformer", "paper_matched");
  for (const char* model : {"mlp", "lstm", "transformer", "cisformer"}) {
    EXPECT_NEAR(count(model, "paper_matched") / transformer, 1.0, 0.02) << model;
  }
}

TEST(JobConfigTest, ModelsTooLargeToRunAreRefusedWithTheirSize) {
  JobConfig config;
  ASSERT_EQ(config.Set("model", std::string("cisformer")), "");
  ASSERT_EQ(config.Set("width", int64_t{1024}), "");
  ASSERT_EQ(config.Set("heads", int64_t{8}), "");
  // 2 blocks x (4w + 24 positions x (QKV 3w^2+3w, out w^2+w, FFN 2wF+F+w))
  // + input lookup 21w + final norm 2w + read-out 16w+16, w = 1024, F = 64.
  EXPECT_EQ(config.Validate(),
            "width: this cisformer (layers 2, width 1024, ffn_width 64, context_length 24) has "
            "207,915,024 parameters, more than the 100,000,000 a job may have; make it smaller");
  JobConfig at_limit_edges;  // the registry's largest sizes, from the preset's model
  ASSERT_EQ(at_limit_edges.Set("layers", int64_t{256}), "");
  ASSERT_EQ(at_limit_edges.Set("width", int64_t{8192}), "");
  ASSERT_EQ(at_limit_edges.Set("ffn_width", int64_t{65536}), "");
  EXPECT_EQ(at_limit_edges.Validate().rfind("width: this transformer (layers 256", 0), 0u)
      << at_limit_edges.Validate();
}

// The separation tasks (issue 16): their options, the model's sizes they
// imply, and the keys of another task refused.
TEST(JobConfigTest, SeparationTasksResolveAndRefuseOtherTasksKeys) {
  JobConfig lookup;
  ASSERT_EQ(lookup.Set("task", std::string("index_lookup")), "");
  EXPECT_FALSE(lookup.IsIarc());
  EXPECT_EQ(lookup.Validate(), "");
  const ModelShape shape = lookup.Model();
  EXPECT_EQ(shape.vocab, 64 + 20);        // symbols, then an index token per position
  EXPECT_EQ(shape.numbers, 64);           // the answer is a symbol
  EXPECT_EQ(shape.context_length, 21);    // x_1..x_20, then the index token

  JobConfig equality;  // length 0: the task's default, 21 (odd) here
  ASSERT_EQ(equality.Set("task", std::string("string_equality")), "");
  EXPECT_EQ(equality.SeparationTaskOptions().length, 21);
  EXPECT_EQ(equality.Validate(), "");

  JobConfig dyck;
  ASSERT_EQ(dyck.Set("task", std::string("dyck")), "");
  ASSERT_EQ(dyck.Set("length", int64_t{21}), "");
  EXPECT_EQ(dyck.Validate().rfind("length: 21 is odd", 0), 0u) << dyck.Validate();
  ASSERT_EQ(dyck.Set("length", int64_t{20}), "");
  ASSERT_EQ(dyck.Set("tasks", std::string("IA")), "");
  EXPECT_EQ(dyck.Validate(), "tasks: 'IA' is an option of task iarc, not of dyck; leave it out");

  JobConfig iarc;
  ASSERT_EQ(iarc.Set("length", int64_t{50}), "");
  EXPECT_EQ(iarc.Validate(),
            "length: 50 is an option of tasks index_lookup, dyck, nearest_neighbor, "
            "string_equality, not of iarc; leave it out");
  EXPECT_EQ(iarc.Set("length", int64_t{1025}), "length: 1025 is out of range [0, 1024]");

  JobConfig depth;
  ASSERT_EQ(depth.Set("task", std::string("index_lookup")), "");
  ASSERT_EQ(depth.Set("depth", int64_t{3}), "");
  EXPECT_EQ(depth.Validate(), "depth: 3 is an option of task dyck, not of index_lookup; leave it out");

  // Too large to run: the cisformer's per-position maps at length 1024.
  JobConfig big;
  ASSERT_EQ(big.Set("task", std::string("index_lookup")), "");
  ASSERT_EQ(big.Set("model", std::string("cisformer")), "");
  ASSERT_EQ(big.Set("length", int64_t{1024}), "");
  ASSERT_EQ(big.Set("width", int64_t{256}), "");
  EXPECT_EQ(big.Validate().rfind("width: this cisformer (layers 2, width 256, ffn_width 64, "
                                 "length 1024) has ", 0), 0u)
      << big.Validate();
}

TEST(JobConfigTest, TaskOptionsAreValidatedByTheGenerator) {
  JobConfig config;
  ASSERT_EQ(config.Set("tasks", std::string("IX")), "");
  std::string error = config.Validate();
  EXPECT_EQ(error.rfind("tasks:", 0), 0u) << error;
  ASSERT_EQ(config.Set("tasks", std::string("IA")), "");
  ASSERT_EQ(config.Set("switch_min", int64_t{9}), "");
  ASSERT_EQ(config.Set("switch_max", int64_t{3}), "");
  EXPECT_NE(config.Validate(), "");
}

TEST(JobConfigTest, JsonRoundTripIsCanonical) {
  JobConfig config;
  ASSERT_EQ(config.Set("model", std::string("cisformer")), "");
  ASSERT_EQ(config.Set("lr", 0.0025), "");
  ASSERT_EQ(config.Set("seed", int64_t{42}), "");
  std::string json = config.ToJson();
  JobConfig back;
  ASSERT_EQ(JobConfig::FromJson(json, &back), "");
  EXPECT_TRUE(back == config);
  EXPECT_EQ(back.ToJson(), json);
  // Keys are sorted, so equal configs give equal text.
  EXPECT_LT(json.find("\"attention\""), json.find("\"batch_size\""));
}

TEST(JobConfigTest, FromJsonRefusesBadInput) {
  JobConfig out;
  EXPECT_EQ(JobConfig::FromJson("{", &out), "config: not valid JSON");
  EXPECT_EQ(JobConfig::FromJson("[1]", &out), "config: expected a JSON object");
  EXPECT_EQ(JobConfig::FromJson(R"({"modle":"mlp"})", &out),
            "modle: unknown key; did you mean 'model'?");
  EXPECT_EQ(JobConfig::FromJson(R"({"epochs":[1]})", &out), "epochs: expected a number or a string");
  EXPECT_EQ(JobConfig::FromJson(R"({"epochs":"3"})", &out),
            "epochs: expected an integer, got the string '3'");
}

TEST(JobConfigTest, TaskOptionsCarryEveryChoice) {
  JobConfig config;
  ASSERT_EQ(config.Set("c_mode", std::string("per_step")), "");
  ASSERT_EQ(config.Set("layout", std::string("attached")), "");
  ASSERT_EQ(config.Set("first_control_without_c", int64_t{0}), "");
  ASSERT_EQ(config.Set("context_length", int64_t{12}), "");
  tasks::IarcOptions options = config.TaskOptions();
  EXPECT_EQ(options.c_mode, tasks::CMode::kPerStep);
  EXPECT_EQ(options.layout, tasks::Layout::kAttached);
  EXPECT_FALSE(options.first_control_without_c);
  EXPECT_EQ(options.context_length, 12);
}

// A program of the user's own: `program` names it (never a path), and its
// params travel in the config JSON and back, typed and bounded.
TEST(JobConfigTest, ProgramParamsRoundTripThroughJson) {
  JobConfig config;
  ASSERT_EQ(config.Set("program", std::string("mamba")), "");
  ASSERT_EQ(config.Set("params.hidden", int64_t{64}), "");
  ASSERT_EQ(config.Set("params.cell", std::string("gru")), "");
  ASSERT_EQ(config.Set("params.dropout", 0.25), "");
  EXPECT_EQ(config.Validate(), "");
  JobConfig back;
  ASSERT_EQ(JobConfig::FromJson(config.ToJson(), &back), "");
  EXPECT_EQ(back, config);
  EXPECT_EQ(back.ProgramParams().size(), 3u);
  // No params: the JSON has no "params" key at all.
  EXPECT_EQ(JobConfig().ToJson().find("params"), std::string::npos);
}

TEST(JobConfigTest, ProgramAndParamsAreChecked) {
  JobConfig config;
  EXPECT_NE(config.Set("program", std::string("/usr/bin/python3")).find("is a path"),
            std::string::npos);
  EXPECT_NE(config.Set("program", std::string("a b")).find("may hold only"), std::string::npos);
  EXPECT_NE(config.Set("params.9x", int64_t{1}).find("is not a parameter name"),
            std::string::npos);
  EXPECT_NE(config.Set("params.x", std::string(300, 'y')).find("longer than 256 bytes"),
            std::string::npos);
  EXPECT_NE(config.Set("params.x", std::nan("")).find("finite"), std::string::npos);
  for (size_t i = 0; i < kMaxProgramParams; ++i) {
    ASSERT_EQ(config.Set("params.p" + std::to_string(i), int64_t{1}), "");
  }
  EXPECT_NE(config.Set("params.one_more", int64_t{1}).find("more than 32 params"),
            std::string::npos);
  // Params are for a program of the user's own, not the built-in trainer.
  EXPECT_EQ(config.Validate(),
            "params.p0: switchyard-train takes no params; they are for a program of your own "
            "(program: NAME)");
  ASSERT_EQ(config.Set("program", std::string("own")), "");
  EXPECT_EQ(config.Validate(), "");
  JobConfig parsed;
  EXPECT_EQ(JobConfig::FromJson(R"({"params": [1]})", &parsed),
            "params: expected an object of NAME: value");
  EXPECT_EQ(JobConfig::FromJson(R"({"params": {"a": [1]}})", &parsed),
            "params.a: expected a number or a string");
}

}  // namespace
}  // namespace switchyard::config
