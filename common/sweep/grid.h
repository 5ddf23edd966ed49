// A sweep as plain data, and its expansion into grid cells. Shared by the
// sweep-file parser (CLI) and the coordinator, so both refuse the same sweeps
// with the same messages.
//
// Thread safety: pure functions over values.
#ifndef SWITCHYARD_COMMON_SWEEP_GRID_H_
#define SWITCHYARD_COMMON_SWEEP_GRID_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/job_config.h"

namespace switchyard::common {

// Grids larger than this are refused.
inline constexpr int64_t kMaxCells = 100'000;
inline constexpr int kDefaultMaxAttempts = 3;

struct SweepAxis {
  std::string key;
  std::vector<config::Value> values;
};

struct SweepDefinition {
  std::string name;
  int32_t priority = 0;
  int32_t max_attempts = 0;  // 0 = kDefaultMaxAttempts
  std::vector<SweepAxis> axes;
};

struct GridCell {
  int64_t index = 0;          // 0-based, in expansion order
  config::JobConfig config;   // resolved (no "auto") and valid
};

// Checks the definition and counts its cells without building them: unknown
// keys, repeated keys, empty value lists, values of the wrong kind or out of
// range, a name over 200 characters, priority or max_attempts out of range, and
// more than kMaxCells cells are INVALID_ARGUMENT naming the key.
absl::StatusOr<int64_t> CountCells(const SweepDefinition& sweep);

// Expands the grid in a fixed order (axes in the order given, the last axis
// varying fastest). A cell that would train the same model as an earlier
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
