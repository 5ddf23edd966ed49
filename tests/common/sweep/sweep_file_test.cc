// The sweep-file parser: every file under tests/data/sweeps/bad is refused
// with its exact message (file:line:column, what was wrong, what was
// expected), and the example sweeps parse into the grids they describe.
#include "common/sweep/sweep_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

namespace switchyard::common {
namespace {

// tests/data -> the source tree, for the relative paths a user types and
// for examples/.
const std::string kSource = std::filesystem::canonical(SWITCHYARD_TEST_DATA_DIR "/../..").string();
const std::string kBadDir = "tests/data/sweeps/bad";

// File name -> the message after "<path>".
const std::map<std::string, std::string>& Expected() {
  static const auto* const expected = new std::map<std::string, std::string>{
      {"syntax_error.yaml", ":3:5: YAML syntax error: end of sequence flow not found"},
      {"tab_indent.yaml", ":3:1: YAML syntax error: illegal tab when looking for indentation"},
      {"unknown_key.yaml", ":2:1: modle: unknown key; did you mean 'model'?"},
      {"wrong_type.yaml", ":3:9: epochs: expected an integer, got 'five'"},
      {"quoted_number.yaml", ":3:7: seed: expected an integer, got the string \"1\""},
      {"fractional_integer.yaml", ":3:9: epochs: expected an integer, got 2.5"},
      {"nan_number.yaml", ":3:5: lr: expected a finite number, got '.nan'"},
      {"empty_list.yaml", ":3:7: seed: the list is empty; give at least one value"},
      {"missing_value.yaml", ":3:1: seed: no value given"},
      {"unknown_model.yaml",
       ":2:14: model: unknown value 'lstn'; known: mlp, lstm, transformer, cisformer"},
      {"unknown_attention.yaml",
       ":3:22: attention: unknown value 'linear'; known: auto, none, softmax, expressive"},
      {"unknown_task_set.yaml",
       ":3:15: tasks: 'IX' has an unknown letter 'X'; allowed: a non-empty subset of IARC in "
       "that order (cell 1: tasks=IX)"},
      {"out_of_range.yaml", ":3:5: lr: -1 is out of range [1e-07, 10]"},
      {"priority_range.yaml", ":2:1: priority: 5000 is out of range [-1000, 1000]"},
      {"too_many_cells.yaml",
       ":2:1: the grid has 125000 cells, more than the 100000 allowed; shorten a list or split "
       "the sweep"},
      {"mapping_value.yaml",
       ":3:3: model: expected a value, a list of values or a distribution such as {log_uniform: "
       "[1.0e-4, 1.0e-2]}; known: uniform, log_uniform, int_uniform, choice"},
      // Random search (issue 19).
      {"dist_without_search.yaml",
       ":2:1: lr: a distribution needs a search; add search: {method: random, trials: N}"},
      {"dist_unknown_kind.yaml",
       ":3:6: lr: unknown distribution 'loguniform'; did you mean 'log_uniform'?"},
      {"dist_bounds.yaml",
       ":3:1: lr: log_uniform: expected [low, high] with low < high, got [0.01, 1e-04]"},
      {"dist_out_of_range.yaml", ":3:1: lr: 1e-09 is out of range [1e-07, 10]"},
      {"dist_integer_key.yaml",
       ":3:1: layers: uniform draws fractions; an integer key takes int_uniform or choice"},
      {"search_without_distribution.yaml",
       ":2:1: search: no key has a distribution; give one, such as lr: {log_uniform: [1.0e-4, "
       "1.0e-2]}"},
      {"search_unknown_field.yaml", ":2:26: search: unknown field 'trails'; did you mean 'trials'?"},
      {"search_too_many_trials.yaml", ":2:1: search: trials: 20000 is out of range [1, 10000]"},
      {"search_unknown_method.yaml", ":2:1: search: unknown method 'grid'; known: random"},
      // Early stopping (issue 19).
      {"scheduler_unknown_kind.yaml",
       ":2:19: scheduler: kind: unknown scheduler 'ashaa'; did you mean 'asha'?"},
      {"scheduler_unknown_field.yaml",
       ":2:58: scheduler: asha has no field 'reducton'; did you mean 'reduction'?"},
      {"scheduler_other_kinds_field.yaml",
       ":2:45: scheduler: median has no field 'max_epochs'; its fields: kind, metric, mode, "
       "warmup_epochs"},
      {"scheduler_no_metric.yaml",
       ":2:12: scheduler: metric: missing; name the metric median ranks jobs by, such as metric: "
       "accuracy"},
      {"scheduler_no_max_epochs.yaml",
       ":2:12: scheduler: max_epochs: missing; the epochs a job that survives every rung trains, "
       "such as max_epochs: 27"},
      {"scheduler_bad_mode.yaml", ":2:49: scheduler: mode: expected max or min, got 'maximum'"},
      {"scheduler_negative.yaml",
       ":2:60: scheduler: warmup_epochs: expected a whole number from 0 to 100000, got '-1'"},
      {"scheduler_reduction.yaml", ":2:1: scheduler: asha: reduction must be 2 to 100, got 1"},
      {"scheduler_epochs_differ.yaml",
       ":2:1: scheduler: asha trains every job up to max_epochs (9), but epochs is 12; leave "
       "epochs out or make it 9"},
      {"scheduler_not_mapping.yaml",
       ":2:12: scheduler: expected a mapping such as {kind: asha, metric: accuracy, mode: max, "
       "min_epochs: 1, max_epochs: 27, reduction: 3}"},
      {"invalid_utf8.yaml", ":1:11: not valid UTF-8 (byte 0xFF); save the file as UTF-8"},
      {"nested_list.yaml",
       ":3:8: seed: expected a single integer in the list, got a nested structure"},
      {"duplicate_key.yaml", ":4:1: seed: given twice"},
      {"repeated_value.yaml", ":3:14: seed: the value 1 is listed twice"},
      {"top_level_list.yaml", ":1:1: expected a mapping of keys to values at the top level"},
      {"name_list.yaml", ":1:7: name: expected a string"},
      {"empty_file.yaml", ": the file is empty; expected keys such as model, tasks, seed"},
      {"switch_range.yaml",
       ":4:13: switch_max: 3 is less than switch_min 9"},
      {"heads_width.yaml",
       ":4:8: heads: 4 does not divide width 30"},
      // The example: the preset's heads against a given width.
      {"w30.yaml", ":7:8: width: 30 is not divisible by heads (4, from preset small)"},
      // A list: the listed value the failing cell took, and the cell.
      {"width_list.yaml",
       ":3:13: width: 30 is not divisible by heads (4, from preset small) (cell 2: width=30, "
       "seed=1)"},
      {"alias_key.yaml", ":2:1: learning_rate: unknown key; did you mean 'lr'?"},
      // The separation tasks' rules (issue 16).
      {"dyck_odd_length.yaml",
       ":3:14: length: 21 is odd; dyck needs an even length (a string of balanced pairs) (cell 1: "
       "length=21)"},
      {"iarc_key_for_dyck.yaml",
       ":3:8: tasks: 'IA' is an option of task iarc, not of dyck; leave it out"},
      {"length_too_long.yaml", ":3:9: length: 2000 is out of range [0, 1024]"},
      {"far_key.yaml", ":2:1: optimizer: unknown key"},
      {"too_many_parameters.yaml",
       ":3:8: width: this cisformer (layers 2, width 1024, ffn_width 64, context_length 24) has "
       "207,915,024 parameters, more than the 100,000,000 a job may have; make it smaller"},
      // Programs of the user's own (issue 20).
      {"program_path.yaml",
       ":2:10: program: '/opt/train.py' is a path; name a program instead. A sweep never says "
       "which file runs: each worker maps names to executables it was started with "
       "(switchyard-worker --program NAME=PATH), see docs/security.md"},
      {"program_name.yaml",
       ":2:10: program: 'my trainer' may hold only letters, digits, '-', '_' and '.'"},
      {"params_for_builtin.yaml",
       ":3:11: params.hidden: switchyard-train takes no params; they are for a program of your "
       "own (program: NAME)"},
      {"params_not_mapping.yaml",
       ":3:9: params: expected a mapping of the program's parameters, such as params: {hidden: "
       "[32, 64], cell: gru}"},
      {"params_bad_name.yaml",
       ":4:3: params.2hidden: '2hidden' is not a parameter name: letters, digits and '_', not "
       "starting with a digit"},
      {"params_nan.yaml", ":4:18: params.dropout: expected a finite number, got '.nan'"},
      {"params_nested.yaml",
       ":4:12: params.layers: expected a single number or string in the list, got a nested "
       "structure"},
      {"params_repeated.yaml", ":4:15: params.cell: the value gru is listed twice"},
      {"params_long_string.yaml", ":4:9: params.note: longer than 256 bytes"},
      {"d_too_small.yaml",
       ":4:4: d: 5 leaves N = 1 number tokens for tasks 'IARC'; d must be at least |tasks| + 2 "
       "= 6"},
  };
  return *expected;
}

class BadSweepFileTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadSweepFileTest, RefusedWithFileLineColumnAndMessage) {
  const std::string path = kBadDir + "/" + GetParam();
  // Relative path, as a user types it: the message names the file that way.
  const std::filesystem::path cwd = std::filesystem::current_path();
  std::filesystem::current_path(kSource);
  absl::StatusOr<SweepDefinition> sweep = ParseSweepFile(path);
  std::filesystem::current_path(cwd);
  ASSERT_FALSE(sweep.ok()) << path << " was accepted";
  EXPECT_EQ(sweep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(sweep.status().message()), path + Expected().at(GetParam()));
}

std::vector<std::string> BadFiles() {
  std::vector<std::string> names;
  for (const auto& [name, message] : Expected()) names.push_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllBadFiles, BadSweepFileTest, ::testing::ValuesIn(BadFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.find('.'));
                           return name;
                         });

TEST(BadSweepFiles, EveryFileInTheFolderHasAnExpectedMessage) {
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(kSource + "/" + kBadDir)) {
    on_disk.insert(entry.path().filename().string());
  }
  std::set<std::string> expected;
  for (const auto& [name, message] : Expected()) expected.insert(name);
  EXPECT_EQ(on_disk, expected);
  EXPECT_GE(on_disk.size(), 12u);
}

// A program's params expand like any list key and keep the kind the file
// gives them: 64 an integer, 0.5 and 1.0 numbers, gru and "7" strings.
TEST(SweepFile, ProgramParamsExpandAndKeepTheirKinds) {
  absl::StatusOr<SweepDefinition> sweep = ParseSweepText(
      "name: own\nprogram: mamba\nparams:\n  hidden: [32, 64]\n  dropout: 1.0\n"
      "  cell: gru\n  tag: \"7\"\nseed: [1, 2]\n",
      "own.yaml");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(*sweep);
  ASSERT_TRUE(cells.ok()) << cells.status();
  ASSERT_EQ(cells->size(), 4u);
  const config::JobConfig& last = cells->back().config;
  EXPECT_EQ(last.Str("program"), "mamba");
  EXPECT_EQ(last.ProgramParams().at("hidden"), config::Value(int64_t{64}));
  EXPECT_EQ(last.ProgramParams().at("dropout"), config::Value(1.0));
  EXPECT_EQ(last.ProgramParams().at("cell"), config::Value(std::string("gru")));
  EXPECT_EQ(last.ProgramParams().at("tag"), config::Value(std::string("7")));
  EXPECT_NE(last.ToJson().find("\"params\":{\"cell\":\"gru\",\"dropout\":1.0,\"hidden\":64,"
                               "\"tag\":\"7\"}"),
            std::string::npos)
      << last.ToJson();
}

TEST(SweepFile, OwnTrainerExampleIsFourJobs) {
  absl::StatusOr<SweepDefinition> sweep =
      ParseSweepFile(kSource + "/examples/own-trainer/sweep.yaml");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  absl::StatusOr<std::vector<GridCell>> cells = ExpandGrid(*sweep);
  ASSERT_TRUE(cells.ok()) << cells.status();
  ASSERT_EQ(cells->size(), 4u);
  std::set<std::string> models;
  for (const GridCell& cell : *cells) {
    EXPECT_EQ(cell.config.Str("program"), "own-trainer");
    models.insert(std::get<std::string>(cell.config.ProgramParams().at("model")));
  }
  EXPECT_EQ(models, (std::set<std::string>{"lstm", "ssm"}));
}

TEST(SweepFile, MissingFileIsNotFound) {
  absl::StatusOr<SweepDefinition> sweep = ParseSweepFile("/nonexistent/sweep.yaml");
  EXPECT_EQ(sweep.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(sweep.status().message()), "/nonexistent/sweep.yaml: cannot read the file");
}

TEST(SweepFile, QuickExampleIsTwelveJobs) {
  absl::StatusOr<SweepDefinition> sweep = ParseSweepFile(kSource + "/examples/quick.yaml");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->name, "quick");
  absl::StatusOr<int64_t> cells = CountCells(*sweep);
  ASSERT_TRUE(cells.ok());
  EXPECT_EQ(*cells, 12);
  absl::StatusOr<std::vector<GridCell>> grid = ExpandGrid(*sweep);
  ASSERT_TRUE(grid.ok());
  std::set<std::string> families;
  for (const GridCell& cell : *grid) {
    families.insert(cell.config.Str("model") + "/" + cell.config.Str("attention"));
    EXPECT_EQ(cell.config.Str("tasks"), "IARC");
    EXPECT_EQ(cell.config.Str("preset"), "small");
  }
  EXPECT_EQ(families, (std::set<std::string>{"mlp/none", "lstm/none", "transformer/softmax",
                                             "transformer/expressive", "cisformer/softmax",
                                             "cisformer/expressive"}));
}

TEST(SweepFile, AshaExampleIs27TrialsUnderAsha) {
  absl::StatusOr<SweepDefinition> sweep = ParseSweepFile(kSource + "/examples/asha.yaml");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->scheduler.kind, SchedulerSpec::Kind::kAsha);
  EXPECT_EQ(sweep->scheduler.asha.metric, "accuracy");
  EXPECT_TRUE(sweep->scheduler.asha.maximize);
  EXPECT_EQ(sweep->scheduler.asha.min_epochs, 1);
  EXPECT_EQ(sweep->scheduler.asha.max_epochs, 27);
  EXPECT_EQ(sweep->scheduler.asha.reduction, 3);
  absl::StatusOr<std::vector<GridCell>> grid = ExpandGrid(*sweep);
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_EQ(grid->size(), 27u);
  for (const GridCell& cell : *grid) EXPECT_EQ(cell.config.Int("epochs"), 27);
}

TEST(SweepFile, PaperExampleCoversTheFigureSubsets) {
  absl::StatusOr<SweepDefinition> sweep = ParseSweepFile(kSource + "/examples/paper-fig1.yaml");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  absl::StatusOr<std::vector<GridCell>> grid = ExpandGrid(*sweep);
  ASSERT_TRUE(grid.ok());
  std::set<std::string> tasks, presets;
  std::set<int64_t> seeds;
  for (const GridCell& cell : *grid) {
    tasks.insert(cell.config.Str("tasks"));
    presets.insert(cell.config.Str("preset"));
    seeds.insert(cell.config.Int("seed"));
  }
  EXPECT_EQ(tasks, (std::set<std::string>{"IARC", "IAR", "IA", "IR", "AR", "IC"}));
  EXPECT_EQ(presets, (std::set<std::string>{"paper", "paper_matched"}));
  EXPECT_GE(seeds.size(), 3u);
  // Per task subset and seed: mlp and lstm at two sizes, the transformer
  // (one model in both presets) x 2 attention kinds, the cisformer x 2 x 2.
  EXPECT_EQ(grid->size(), 10u * 6u * seeds.size());
}

TEST(SweepFile, ListsExpandAndScalarsAreShared) {
  absl::StatusOr<SweepDefinition> sweep = ParseSweepText(
      "name: t\nmodel: [mlp, transformer]\nattention: [softmax, expressive]\nseed: [1, 2]\n"
      "lr: 0.01\ntasks: \"IA\"\nd: 12\n",
      "t.yaml");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  absl::StatusOr<std::vector<GridCell>> grid = ExpandGrid(*sweep);
  ASSERT_TRUE(grid.ok());
  ASSERT_EQ(grid->size(), 6u);  // mlp x 2 seeds + transformer x 2 attentions x 2 seeds
  for (const GridCell& cell : *grid) {
    EXPECT_DOUBLE_EQ(cell.config.Float("lr"), 0.01);
    EXPECT_EQ(cell.config.Str("tasks"), "IA");
    EXPECT_EQ(cell.config.Int("d"), 12);
  }
}

}  // namespace
}  // namespace switchyard::common
