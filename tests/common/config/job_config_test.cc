#include "common/config/job_config.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace switchyard::config
