#include "worker/train/metrics.h"

#include <gtest/gtest.h>

#include <vector>

namespace switchyard::worker::train {
namespace {

using tasks::Rule;

TEST(EvalCountsTest, CountsNumberTargetsOnlyAndSplitsByRule) {
  tasks::WindowBatch batch;
  batch.batch = 2;
  batch.length = 3;
  batch.targets = {1, -1, 2, /*row 2*/ 3, 4, 5};
  batch.rules = {Rule::kI, Rule::kNone, Rule::kA, Rule::kC, Rule::kI, Rule::kR};
  std::vector<int64_t> predictions = {1, 0, 0, 3, 4, 0};
  EvalCounts counts;
  counts.Add(predictions.data(), batch);
  EXPECT_EQ(counts.total, 5);
  EXPECT_EQ(counts.correct, 3);
  EXPECT_EQ(counts.last_total, 2);
  EXPECT_EQ(counts.last_correct, 0);
  counts.loss_sum = 10;

  nlohmann::ordered_json json = MetricsJson(counts);
  EXPECT_DOUBLE_EQ(json["eval_loss"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(json["accuracy"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(json["accuracy_last"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(json["accuracy_I"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(json["accuracy_A"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(json["accuracy_R"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(json["accuracy_C"].get<double>(), 1.0);
}

TEST(EvalCountsTest, MissingRulesAreNullNotNan) {
  tasks::WindowBatch batch;
  batch.batch = 1;
  batch.length = 2;
  batch.targets = {1, 2};
  batch.rules = {Rule::kI, Rule::kI};
  std::vector<int64_t> predictions = {1, 2};
  EvalCounts counts;
  counts.Add(predictions.data(), batch);
  nlohmann::ordered_json json = MetricsJson(counts);
  EXPECT_TRUE(json["accuracy_A"].is_null());
  EXPECT_TRUE(json["accuracy_R"].is_null());
  EXPECT_TRUE(json["accuracy_C"].is_null());
  EXPECT_EQ(json.dump(),
            "{\"eval_loss\":0.0,\"accuracy\":1.0,\"accuracy_last\":1.0,"
            "\"accuracy_I\":1.0,\"accuracy_A\":null,\"accuracy_R\":null,"
            "\"accuracy_C\":null}");
  EXPECT_TRUE(MetricsJson(EvalCounts{})["accuracy"].is_null());
}

}  // namespace
}  // namespace switchyard::worker::train
