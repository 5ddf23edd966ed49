// Sweep files: YAML whose top-level keys are the sweep's name, priority and
// max_attempts plus any job parameter (common/config/job_config.h). A key with
// a list expands into the grid; a scalar is shared by every cell:
//
//   name: quick
//   model: [mlp, lstm, transformer, cisformer]
//   attention: [softmax, expressive]
//   seed: [1, 2]
//   epochs: 5
//
// Thread safety: pure functions.
#ifndef SWITCHYARD_COMMON_SWEEP_SWEEP_FILE_H_
#define SWITCHYARD_COMMON_SWEEP_SWEEP_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/sweep/grid.h"

namespace switchyard::common {

// Parses sweep-file text. Every error is INVALID_ARGUMENT with the message
// "<origin>:<line>:<column>: <what was wrong and what was expected>" (1-based
// line and column), e.g. "sweep.yaml:3:1: modle: unknown key; did you mean
// 'model'?". Also checks the whole grid (CountCells), so a file that parses is
// a sweep the coordinator accepts.
absl::StatusOr<SweepDefinition> ParseSweepText(std::string_view text, std::string_view origin);

// Reads and parses a file; an unreadable file is NOT_FOUND naming the path.
absl::StatusOr<SweepDefinition> ParseSweepFile(const std::string& path);

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_SWEEP_SWEEP_FILE_H_
