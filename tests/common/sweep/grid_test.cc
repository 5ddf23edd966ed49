#include "common/sweep/grid.h"

#include <cmath>
#include <set>

#include <gtest/gtest.h>

namespace switchyard::common {
namespace {

SweepAxis Strings(std::string key, std::vector<std::string> values) {
  SweepAxis axis{std::move(key), {}};
  for (auto& v : values) axis.values.emplace_back(std::move(v));
  return axis;
}

SweepAxis Ints(std::string key, std::vector<int64_t> values) {
  SweepAxis axis{std::move(key), {}};
  for (int64_t v : values) axis.values.emplace_back(v);
  return axis;
}

// paper and paper_matched share the transformer: a grid over both presets
// trains it once (under the preset listed first), and counts it once.
TEST(GridTest, PresetsThatResolveToTheSameModelGiveOneCell) {
  SweepDefinition sweep;
  sweep.axes = {Strings("model", {"transformer", "cisformer", "mlp"}),
                Strings("preset", {"paper", "paper_matched"}), Ints("seed", {1, 2})};
  absl::StatusOr<int64_t> count = CountCells(sweep);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, (1 + 2 + 2) * 2);
  absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(sweep);
  ASSERT_TRUE(cells.ok()) << cells.status();
  ASSERT_EQ(static_cast<int64_t>(cells->size()), *count);
  std::multiset<std::string> seen;
  for (const GridCell& cell : *cells) {
    seen.insert(cell.config.Str("model") + "/" + cell.config.Str("preset"));
  }
  EXPECT_EQ(seen, (std::multiset<std::string>{"transformer/paper", "transformer/paper",
                                              "cisformer/paper", "cisformer/paper",
                                              "cisformer/paper_matched", "cisformer/paper_matched",
                                              "mlp/paper", "mlp/paper", "mlp/paper_matched",
                                              "mlp/paper_matched"}));

  // With the width given, the two mlp presets (both 16 layers) are one model.
  sweep.axes = {Strings("model", {"mlp"}), Strings("preset", {"paper", "paper_matched"}),
                Ints("width", {20})};
  count = CountCells(sweep);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 1);
  EXPECT_EQ(ExpandGrid(sweep)->size(), 1u);
}

TEST(GridTest, AttentionMultipliesOnlyModelsThatHaveIt) {
  SweepDefinition sweep;
  sweep.axes = {Strings("model", {"mlp", "lstm", "transformer", "cisformer"}),
                Strings("attention", {"softmax", "expressive"}), Ints("seed", {1, 2})};
  absl::StatusOr<int64_t> count = CountCells(sweep);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, (2 + 2 * 2) * 2);
  absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(sweep);
  ASSERT_TRUE(cells.ok()) << cells.status();
  ASSERT_EQ(cells->size(), 12u);
  std::set<std::string> keys;
  for (const GridCell& cell : *cells) {
    keys.insert(CellKey(cell.config));
    const std::string& model = cell.config.Str("model");
    if (model == "mlp" || model == "lstm") {
      EXPECT_EQ(cell.config.Str("attention"), "none");
    } else {
      EXPECT_NE(cell.config.Str("attention"), "none");
    }
  }
  EXPECT_EQ(keys.size(), 12u);
  for (size_t i = 0; i < cells->size(); ++i) EXPECT_EQ((*cells)[i].index, static_cast<int64_t>(i));
}

TEST(GridTest, LastAxisVariesFastest) {
  SweepDefinition sweep;
  sweep.axes = {Strings("tasks", {"IA", "IR"}), Ints("seed", {1, 2, 3})};
  absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(sweep);
  ASSERT_TRUE(cells.ok()) << cells.status();
  ASSERT_EQ(cells->size(), 6u);
  EXPECT_EQ((*cells)[0].config.Str("tasks"), "IA");
  EXPECT_EQ((*cells)[0].config.Int("seed"), 1);
  EXPECT_EQ((*cells)[1].config.Int("seed"), 2);
  EXPECT_EQ((*cells)[3].config.Str("tasks"), "IR");
}

TEST(GridTest, NoAxesIsOneDefaultCell) {
  SweepDefinition sweep;
  absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(sweep);
  ASSERT_TRUE(cells.ok()) << cells.status();
  ASSERT_EQ(cells->size(), 1u);
  EXPECT_EQ((*cells)[0].config.Str("attention"), "softmax");
}

TEST(GridTest, RefusalsNameTheKey) {
  auto error_of = [](SweepDefinition sweep) {
    absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(sweep);
    EXPECT_FALSE(cells.ok());
    EXPECT_EQ(cells.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(cells.status().message());
  };
  SweepDefinition unknown;
  unknown.axes = {Strings("modle", {"mlp"})};
  EXPECT_EQ(error_of(unknown), "modle: unknown key; did you mean 'model'?");

  SweepDefinition empty;
  empty.axes = {Ints("seed", {})};
  EXPECT_EQ(error_of(empty), "seed: the list of values is empty");

  SweepDefinition twice;
  twice.axes = {Ints("seed", {1}), Ints("seed", {2})};
  EXPECT_EQ(error_of(twice), "seed: given twice");

  SweepDefinition repeated;
  repeated.axes = {Ints("seed", {1, 1})};
  EXPECT_EQ(error_of(repeated), "seed: the value 1 is listed twice");

  SweepDefinition bad_model;
  bad_model.axes = {Strings("model", {"mlp", "lstn"})};
  EXPECT_EQ(error_of(bad_model),
            "model: unknown value 'lstn'; known: mlp, lstm, transformer, cisformer (item 2)");

  SweepDefinition bad_tasks;
  bad_tasks.axes = {Strings("tasks", {"C"})};
  EXPECT_EQ(error_of(bad_tasks).rfind("tasks:", 0), 0u);

  SweepDefinition lstm_attention;
  lstm_attention.axes = {Strings("model", {"lstm"}), Strings("attention", {"softmax"})};
  // mlp and lstm cells take attention none, whatever the attention axis says.
  EXPECT_TRUE(ExpandGrid(lstm_attention).ok());

  SweepDefinition priority;
  priority.priority = 5000;
  EXPECT_EQ(error_of(priority), "priority: 5000 is out of range [-1000, 1000]");
}

TEST(GridTest, TooManyCellsIsRefusedWithoutExpanding) {
  SweepDefinition sweep;
  std::vector<int64_t> seeds(1000), batch(1000);
  for (int i = 0; i < 1000; ++i) {
    seeds[i] = i;
    batch[i] = i + 1;
  }
  sweep.axes = {Ints("seed", seeds), Ints("batch_size", batch)};
  absl::StatusOr<int64_t> count = CountCells(sweep);
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(count.status().message()).find("more than 100000 cells"), std::string::npos);
}

TEST(GridTest, LimitStopsEarly) {
  SweepDefinition sweep;
  sweep.axes = {Ints("seed", {1, 2, 3, 4, 5})};
  absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(sweep, 2);
  ASSERT_TRUE(cells.ok());
  EXPECT_EQ(cells->size(), 2u);
}

// Random search (issue 19): N trials per grid cell, drawn from the seed
// alone, inside their bounds, and the same every time.
SweepDefinition SearchSweep(int64_t trials, int64_t seed) {
  SweepDefinition sweep;
  sweep.name = "search";
  sweep.axes.push_back(Strings("model", {"lstm"}));  // any width: no heads to divide it
  sweep.axes.push_back(Ints("layers", {1, 2}));
  sweep.distributions.push_back({"lr", SweepDistribution::Kind::kLogUniform, 1e-4, 3e-2, {}});
  sweep.distributions.push_back({"width", SweepDistribution::Kind::kIntUniform, 8, 64, {}});
  sweep.distributions.push_back(
      {"batch_size", SweepDistribution::Kind::kChoice, 0, 0, {int64_t{16}, int64_t{32}}});
  sweep.search = {"random", trials, seed};
  return sweep;
}

TEST(GridTest, RandomSearchDrawsTrialsPerCellFromTheSeed) {
  absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(SearchSweep(50, 7));
  ASSERT_TRUE(cells.ok()) << cells.status();
  ASSERT_EQ(cells->size(), 100u);  // 2 layers x 50 trials, all distinct
  EXPECT_EQ(CountCells(SearchSweep(50, 7)).value_or(-1), 100);
  int below_geometric_mid = 0;
  for (size_t i = 0; i < cells->size(); ++i) {
    const config::JobConfig& c = (*cells)[i].config;
    EXPECT_EQ(c.Int("layers"), i < 50 ? 1 : 2);  // the grid cell, then its trials
    EXPECT_GE(c.Float("lr"), 1e-4);
    EXPECT_LT(c.Float("lr"), 3e-2);
    EXPECT_GE(c.Int("width"), 8);
    EXPECT_LE(c.Int("width"), 64);
    EXPECT_TRUE(c.Int("batch_size") == 16 || c.Int("batch_size") == 32);
    if (c.Float("lr") < std::sqrt(1e-4 * 3e-2)) ++below_geometric_mid;
    // Trial t takes the same values in every grid cell.
    if (i >= 50) EXPECT_EQ(c.Float("lr"), (*cells)[i - 50].config.Float("lr"));
  }
  // Log-uniform: about half of the draws below the geometric midpoint.
  EXPECT_GT(below_geometric_mid, 25);
  EXPECT_LT(below_geometric_mid, 75);

  absl::StatusOr<std::vector<GridCell>> again = ExpandGrid(SearchSweep(50, 7));
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < cells->size(); ++i) {
    EXPECT_EQ((*again)[i].config, (*cells)[i].config) << "cell " << i;
  }
  absl::StatusOr<std::vector<GridCell>> other = ExpandGrid(SearchSweep(50, 8));
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)[0].config.Float("lr"), (*cells)[0].config.Float("lr"));
}

TEST(GridTest, AshaSetsEveryJobsEpochsToItsMaxEpochs) {
  SweepDefinition sweep = SearchSweep(3, 1);
  sweep.scheduler.kind = SchedulerSpec::Kind::kAsha;
  sweep.scheduler.asha = {"accuracy", true, 1, 9, 3};
  absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(sweep);
  ASSERT_TRUE(cells.ok()) << cells.status();
  for (const GridCell& cell : *cells) EXPECT_EQ(cell.config.Int("epochs"), 9);
  sweep.axes.push_back(Ints("epochs", {9}));  // repeating max_epochs is fine
  EXPECT_TRUE(ExpandGrid(sweep).ok());
  sweep.axes.back() = Ints("epochs", {10});
  EXPECT_EQ(CountCells(sweep).status().message(),
            "scheduler: asha trains every job up to max_epochs (9), but epochs is 10; leave "
            "epochs out or make it 9");
  sweep.axes.pop_back();
  sweep.scheduler.asha.min_epochs = 10;
  EXPECT_EQ(CountCells(sweep).status().message(),
            "scheduler: asha: max_epochs (9) must be at least min_epochs (10)");
  // The median rule leaves epochs to the sweep.
  sweep.scheduler.kind = SchedulerSpec::Kind::kMedian;
  sweep.scheduler.median = {"accuracy", true, 1};
  cells = ExpandGrid(sweep);
  ASSERT_TRUE(cells.ok()) << cells.status();
  EXPECT_NE((*cells)[0].config.Int("epochs"), 9);
}

TEST(GridTest, RandomSearchTrialsThatTrainTheSameJobRunOnce) {
  SweepDefinition sweep;
  sweep.name = "few";
  sweep.distributions.push_back(
      {"batch_size", SweepDistribution::Kind::kChoice, 0, 0, {int64_t{16}, int64_t{32}}});
  sweep.search = {"random", 20, 1};
  absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(sweep);
  ASSERT_TRUE(cells.ok()) << cells.status();
  EXPECT_EQ(cells->size(), 2u);
  EXPECT_EQ(CountCells(sweep).value_or(-1), 2);
}

TEST(GridTest, RandomSearchRefusalsNameTheKey) {
  SweepDefinition sweep = SearchSweep(4, 1);
  sweep.search.method = "";
  EXPECT_EQ(CountCells(sweep).status().message(),
            "lr: a distribution needs a search; add search: {method: random, trials: N}");
  sweep = SearchSweep(4, 1);
  sweep.distributions[1].kind = SweepDistribution::Kind::kUniform;
  EXPECT_EQ(CountCells(sweep).status().message(),
            "width: uniform draws fractions; an integer key takes int_uniform or choice");
  sweep = SearchSweep(60000, 1);
  EXPECT_EQ(CountCells(sweep).status().message(),
            "search: trials: 60000 is out of range [1, 10000]");
  sweep = SearchSweep(10000, 1);
  sweep.axes[1] = Ints("layers", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  EXPECT_EQ(CountCells(sweep).status().message(),
            "search: 11 grid cells x 10000 trials is more than the 100000 jobs a sweep may have; "
            "fewer trials or a smaller grid");
  sweep = SearchSweep(4, 1);
  sweep.distributions.push_back({"layers", SweepDistribution::Kind::kIntUniform, 1, 3, {}});
  EXPECT_EQ(CountCells(sweep).status().message(), "layers: given twice");
}

}  // namespace
}  // namespace switchyard::common
