// What the views of a sweep ask the coordinator for (issue 15, the web
// dashboard; docs/ui.md): downsampled series (QuerySeries) and grouped
// aggregates (Aggregate). The Coordinator runs them against the store; the
// parts here need no store: the queries, their checks, a JobRecord as the
// shared aggregation engine's JobData (common/results/stats.h, which the CLI
// runs too) and the thinning of an aggregated curve.
//
// Thread safety: plain values and pure functions.
#ifndef SWITCHYARD_SERVER_CORE_VIEWS_H_
#define SWITCHYARD_SERVER_CORE_VIEWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/results/stats.h"
#include "server/core/downsample.h"
#include "server/core/types.h"

namespace switchyard::server {

inline constexpr int32_t kDefaultSeriesPoints = 1000;   // max_points 0
inline constexpr int32_t kMaxSeriesPoints = 100'000;     // buckets per series, points per group
inline constexpr size_t kMaxViewNames = 1000;            // names per request
inline constexpr size_t kMaxViewJobIds = 100'000;        // job_ids per request
inline constexpr size_t kMaxGroupByKeys = 32;
inline constexpr size_t kMaxGroupByKeyBytes = 128;      // "params." + a 64-character name fits

// QuerySeries: each selected series (job, name), downsampled.
struct SeriesQuery {
  int64_t sweep_id = 0;
  std::vector<int64_t> job_ids;    // empty = every job of the sweep
  std::vector<std::string> names;  // empty = every metric
  int32_t max_points = 0;          // buckets per series; 0 = kDefaultSeriesPoints
  std::optional<int64_t> after_step;  // only points with step > after_step
};

struct SeriesResult {
  int64_t job_id = 0;
  std::string name;
  std::vector<SeriesBucket> buckets;  // ascending steps; at most max_points
  int64_t points = 0;     // points with a value in the range asked for
  // The highest step read in the range (a missing value counts, so the
  // cursor moves past it); with none, after_step, or -1 without one (as a
  // cursor, -1 means every point). Pass it back as after_step.
  int64_t last_step = -1;
};

// INVALID_ARGUMENT naming the field: max_points outside [0, 100000], more
// than kMaxViewJobIds job_ids or a job id that is not positive, more than
// kMaxViewNames names or a name that is empty or longer than
// `max_name_bytes`.
absl::Status CheckSeriesQuery(const SeriesQuery& query, int64_t max_name_bytes);

// Aggregate: per group of jobs and per x, the summary of the jobs' values.
enum class AggregateX {
  kStep,   // x = the step of each point
  kEpoch,  // x = the "epoch" metric logged at the point's step (results::SeriesByEpoch)
  kFinal,  // one point at x = 0: each job's value at its highest step
};

struct AggregateQuery {
  int64_t sweep_id = 0;
  std::string name;                   // the metric
  std::vector<std::string> group_by;  // config keys (params.NAME too); empty = one group
  std::string x;                      // "step" (also ""), "epoch" or "final"
  bool include_stopped = false;       // results::ResultFilter
  int32_t max_points = 0;             // per group; 0 = every x
};

struct AggregateResult {
  std::vector<std::string> group_by;  // as asked: Curve::key[i] is the value of group_by[i]
  // In the order of the groups' first cells (the sweep file's order); each
  // curve's points ascend in x and its job_ids are the jobs counted.
  std::vector<results::Curve> groups;
};

// The checks of an AggregateQuery, INVALID_ARGUMENT naming the field: an
// empty name or one longer than `max_name_bytes`, an x other than "", step,
// epoch or final, more than kMaxGroupByKeys group_by keys or one longer than
// kMaxGroupByKeyBytes or that is not a config key (with a did-you-mean, as
// the CLI's --group-by says it), and max_points outside [0, 100000].
// Returns which x.
absl::StatusOr<AggregateX> CheckAggregateQuery(const AggregateQuery& query,
                                               int64_t max_name_bytes);

// A stored job as the aggregation engine sees it; the same values the CLI
// gets from the wire's Job (the config through results::ConfigText, the
// state by JobStateName).
results::JobData ToJobData(const JobRecord& job);

// A curve's points thinned to about max_points: all of them when max_points
// is 0 or at least their number; else the points of the highest and the
// lowest mean (the first of equals; never dropped) and max_points - 2 more:
// the last x when that is one, else evenly spaced from the first x to the
// last. So at most max(max_points, 2) points (fewer where the picks
// coincide), ascending x.
std::vector<results::CurvePoint> ThinCurve(const std::vector<results::CurvePoint>& points,
                                           int32_t max_points);

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_CORE_VIEWS_H_
