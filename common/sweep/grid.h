// A sweep as plain data, and its expansion into grid cells. Shared by the
// sweep-file parser (CLI) and the coordinator, so both refuse the same sweeps
// with the same messages.
//
// Thread safety: pure functions over values.
#ifndef SWITCHYARD_COMMON_SWEEP_GRID_H_
#define SWITCHYARD_COMMON_SWEEP_GRID_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/job_config.h"
#include "common/sweep/scheduler.h"

namespace switchyard::common {

// Grids larger than this are refused.
inline constexpr int64_t kMaxCells = 100'000;
inline constexpr int kDefaultMaxAttempts = 3;

struct SweepAxis {
  std::string key;
  std::vector<config::Value> values;
};

// A distribution a key draws its value from under random search (issue 19):
//   {uniform: [a, b]}       a number in [a, b)
//   {log_uniform: [a, b]}   a number whose logarithm is uniform: 0 < a < b
//   {int_uniform: [a, b]}   an integer in [a, b], each equally likely
//   {choice: [v1, v2, ...]} one of the values, each equally likely
struct SweepDistribution {
  enum class Kind { kUniform, kLogUniform, kIntUniform, kChoice };
  std::string key;
  Kind kind = Kind::kUniform;
  double low = 0;                      // uniform, log_uniform, int_uniform
  double high = 0;
  std::vector<config::Value> choices;  // choice
};
const char* DistributionKindName(SweepDistribution::Kind kind);  // "log_uniform"
// False for an unknown name.
bool ParseDistributionKind(std::string_view name, SweepDistribution::Kind* kind);
std::vector<std::string> DistributionKindNames();

// `search: {method: random, trials: N, seed: S}`: N trials for every cell of
// the grid that the list keys span. Trial t draws each distribution key from
// (S, t, the key) alone: the same file and seed give the same trials, and
// trial t takes the same values in every cell of the grid.
struct SearchSpec {
  std::string method;  // "" = none (a plain grid), or "random"
  int64_t trials = 0;
  int64_t seed = 0;
};
inline constexpr int64_t kMaxTrials = 10'000;

struct SweepDefinition {
  std::string name;
  int32_t priority = 0;
  int32_t max_attempts = 0;  // 0 = kDefaultMaxAttempts
  std::vector<SweepAxis> axes;
  std::vector<SweepDistribution> distributions;  // only with a search
  SearchSpec search;
  // Early stopping (scheduler.h). Under ASHA every job trains max_epochs at
  // most: a sweep without an epochs key gets epochs = max_epochs, and one
  // whose epochs differ is refused.
  SchedulerSpec scheduler;
};

// The value `distribution` gives trial `trial` of a search seeded `seed`:
// a pure function of its arguments (SplitMix64 of seed, trial and the key's
// FNV-1a hash; no library distribution, whose output may change between
// standard libraries).
config::Value SampleDistribution(const SweepDistribution& distribution, int64_t seed,
                                 int64_t trial);

struct GridCell {
  int64_t index = 0;          // 0-based, in expansion order
  config::JobConfig config;   // resolved (no "auto") and valid
};

// Checks the definition and counts its cells without building them: unknown
// keys, repeated keys, empty value lists, values of the wrong kind or out of
// range, a name over 200 characters, priority or max_attempts out of range, and
// more than kMaxCells cells are INVALID_ARGUMENT naming the key. So are a
// distribution whose bounds or choices the key does not allow, a
// distribution without a search, and a search without a distribution. A
// scheduler ValidateScheduler refuses, and ASHA with an epochs value other
// than its max_epochs, are INVALID_ARGUMENT starting "scheduler: ". A
// search sweep's count is exact: its trials are drawn and two that train the
// same job count once (ExpandGrid gives the same cells).
absl::StatusOr<int64_t> CountCells(const SweepDefinition& sweep);

// Expands the grid in a fixed order (axes in the order given, the last axis
// varying fastest; under a search, each grid cell's trials in trial order). A cell that would train the same model as an earlier
// one is left out: mlp and lstm cells get attention "none" and are not
// duplicated per attention kind, and presets that resolve to the same sizes
// (the transformer of paper and of paper_matched) give one cell, under the
// preset listed first. CountCells counts the same cells. Every cell is validated (JobConfig::Validate);
// the first invalid one is INVALID_ARGUMENT with its cell index. `limit` > 0
// stops after that many cells (for dry runs).
absl::StatusOr<std::vector<GridCell>> ExpandGrid(const SweepDefinition& sweep, int64_t limit = 0);

// A key for the cell that is unique within a sweep: the canonical JSON of the
// cell's config.
std::string CellKey(const config::JobConfig& config);

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_SWEEP_GRID_H_
