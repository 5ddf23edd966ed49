// The trainer's stdout contract (docs/trainer.md), parsed: one JSON object
// per line, which is one of
//   {"epoch":e,"step":s,"loss":..,...}      metrics at global step s
//   {"checkpoint":"<path>","step":N}        ckpt-N.pt is complete
//   {"summary":true,"parameters":P,...}     the last line of a finished run
//   {"error":"..","exit_code":3,"step":S}   why training failed
// A metrics line becomes one point per numeric key other than "step" (so
// "epoch" is a metric too), all at that step. Values that are not finite
// numbers (null, or keys of other kinds) are skipped: the coordinator
// refuses non-finite values, and one bad value must not drop a whole batch.
//
// Thread safety: pure functions.
#ifndef SWITCHYARD_WORKER_AGENT_TRAINER_OUTPUT_H_
#define SWITCHYARD_WORKER_AGENT_TRAINER_OUTPUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "switchyard/v1/switchyard.pb.h"

namespace switchyard::worker {

struct TrainerEvent {
  enum class Kind { kMetrics, kCheckpoint, kSummary, kError, kOther };
  Kind kind = Kind::kOther;
  int64_t step = 0;                           // kMetrics, kCheckpoint
  std::vector<switchyard::v1::MetricPoint> points;  // kMetrics, in key order
  std::string checkpoint_path;                // kCheckpoint, as the trainer wrote it
  std::string error;                          // kError: the trainer's message
  std::string json;                           // the line itself (kSummary's summary_json)
};

// Parses one stdout line; `wall_time` (unix seconds) stamps the points.
// INVALID_ARGUMENT for a line that is not a JSON object, a metrics or
// checkpoint line without a non-negative integer "step", or a checkpoint line
// without a path. Objects of no known shape are kOther.
absl::StatusOr<TrainerEvent> ParseTrainerLine(std::string_view line, double wall_time);

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_TRAINER_OUTPUT_H_
