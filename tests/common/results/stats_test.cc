// common/results/stats.h beyond the statistics: a job's config as text (the
// same for the CLI, which reads it from the wire, and the coordinator, which
// reads it from its database) and a series against epoch.
#include "common/results/stats.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace switchyard::results {
namespace {

TEST(ConfigTextTest, EveryKeyAsTextAndParamsAsKeysOfTheirOwn) {
  std::map<std::string, std::string> text = ConfigText(
      R"({"model":"lstm","seed":3,"lr":0.001,"wd":10.0,"big":1e-7,"flag":true,)"
      R"("list":[1,2],"params":{"depth":4,"rate":0.5,"kind":"ssm"}})");
  EXPECT_EQ(text.at("model"), "lstm");
  EXPECT_EQ(text.at("seed"), "3");
  EXPECT_EQ(text.at("lr"), "0.001");
  EXPECT_EQ(text.at("wd"), "10");       // the shortest form that reads back
  EXPECT_EQ(text.at("big"), "1e-07");
  EXPECT_EQ(text.at("flag"), "true");   // anything else: its JSON
  EXPECT_EQ(text.at("list"), "[1,2]");
  EXPECT_EQ(text.at("params.depth"), "4");
  EXPECT_EQ(text.at("params.rate"), "0.5");
  EXPECT_EQ(text.at("params.kind"), "ssm");
  EXPECT_EQ(text.count("params"), 0u);
  EXPECT_TRUE(ConfigText("not json").empty());
  EXPECT_TRUE(ConfigText("[1,2]").empty());
  EXPECT_TRUE(ConfigText("").empty());
}

TEST(SeriesByEpochTest, TheEpochAtTheSameStepElseStepsPerEpochElseTheStep) {
  bool by_epoch = true;
  Series s = SeriesByEpoch({{50, 0.5}, {100, 0.6}, {150, 0.7}}, {{50, 1}, {100, 2}, {150, 3}}, 0,
                           &by_epoch);
  EXPECT_EQ(s, (Series{{1, 0.5}, {2, 0.6}, {3, 0.7}}));
  EXPECT_TRUE(by_epoch);

  // Step 25 has no epoch: 25 / 50.
  s = SeriesByEpoch({{25, 0.4}, {50, 0.5}}, {{50, 1}}, 50, &by_epoch);
  EXPECT_EQ(s, (Series{{0.5, 0.4}, {1, 0.5}}));
  EXPECT_TRUE(by_epoch);

  // Neither: the step, and the caller learns it.
  s = SeriesByEpoch({{7, 0.4}}, {}, 0, &by_epoch);
  EXPECT_EQ(s, (Series{{7, 0.4}}));
  EXPECT_FALSE(by_epoch);

  // Two steps at the same x: the higher step's value.
  by_epoch = true;
  s = SeriesByEpoch({{10, 0.1}, {20, 0.2}}, {{10, 1}, {20, 1}}, 0, &by_epoch);
  EXPECT_EQ(s, (Series{{1, 0.2}}));
}

}  // namespace
}  // namespace switchyard::results
