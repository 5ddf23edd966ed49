// Statistics over a sweep's jobs, shared by the CLI (`results`, `figure`)
// and the coordinator (the Aggregate RPC), so that both give the same
// numbers: final metrics per group (the `results` table, the bar figure,
// Aggregate x=final) and curves per group (the curve figure, Aggregate
// x=step and x=epoch).
//
// Groups are keyed by the text values of config keys (e.g. model, attention,
// tasks) and ordered by the smallest cell index among their jobs, so tables
// and figures follow the order of the sweep file. Only succeeded jobs count
// (a failed or cancelled job's last value is not a final result), and, when
// asked for (ResultFilter), the jobs a sweep's early-stopping scheduler cut
// short: stopped and paused ones, at their last value.
//
// No protobuf and no SQL here: callers convert their own job type to JobData
// (the config through ConfigText, so both sides see the same text values).
//
// Thread safety: pure functions over values.
#ifndef SWITCHYARD_COMMON_RESULTS_STATS_H_
#define SWITCHYARD_COMMON_RESULTS_STATS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace switchyard::results {

// Mean, sample standard deviation (divisor n - 1) and range of some values.
// mean, min and max are NaN for n = 0; stddev is NaN for n < 2.
struct Summary {
  int64_t n = 0;
  double mean = 0;
  double stddev = 0;
  double min = 0;
  double max = 0;
};
Summary Summarize(const std::vector<double>& values);

// One job as the statistics see it (converted from the wire's Job by the
// client, from the store's JobRecord by the coordinator).
struct JobData {
  int64_t id = 0;
  int64_t sweep_id = 0;
  int64_t cell_index = 0;
  std::string state;                          // "pending", "succeeded", ...
  // Every config key, values as text; a program's params as "params.NAME".
  std::map<std::string, std::string> config;
  std::map<std::string, double> final_metrics;
  std::string last_cause;

  // config[key], or "" when the key is missing.
  std::string Config(const std::string& key) const;
  // True when the job runs a program of the user's own (config `program`
  // set and not switchyard-train).
  bool OwnProgram() const;
  // What the job trains, in two parts: (model, attention) for the built-in
  // trainer; (program, "NAME=value ...") of its params for a program of the
  // user's own.
  std::pair<std::string, std::string> Trains() const;
};

// A job's config JSON (an object) as JobData::config: every key with its
// value as text (strings as they are, integers in decimal, other numbers in
// the shortest form that reads back, config::ValueToString; anything else as
// JSON), and the members of a `params` object as "params.NAME" keys. Text
// that is not a JSON object gives an empty map.
std::map<std::string, std::string> ConfigText(const std::string& config_json);

// Which jobs' latest values count as results: succeeded jobs always; stopped
// and paused jobs (cut short by the early-stopping scheduler, so their value
// is from fewer epochs) only with include_stopped; never pending, running,
// failed, lost or cancelled ones.
struct ResultFilter {
  bool include_stopped = false;
  bool Includes(const JobData& job) const;
};

struct GroupResult {
  std::vector<std::string> key;  // one value per group_by key
  Summary summary;               // over the group's jobs that the filter includes
  std::vector<int64_t> job_ids;  // ascending
};

// The final value of `metric` per group of the jobs that the filter includes
// and that have it.
std::vector<GroupResult> GroupFinalMetrics(const std::vector<JobData>& jobs,
                                           const std::string& metric,
                                           const std::vector<std::string>& group_by,
                                           const ResultFilter& filter = {});

// Points (x, value) of one job's curve, in any order.
using Series = std::vector<std::pair<double, double>>;

struct CurvePoint {
  double x = 0;
  Summary y;  // over the group's jobs that have a point at this x
};
struct Curve {
  std::vector<std::string> key;
  std::vector<CurvePoint> points;  // ascending x
  std::vector<int64_t> job_ids;
};

// One curve per group of the jobs that the filter includes and that have a
// series; at each x, the summary of the jobs' values at exactly that x.
std::vector<Curve> GroupCurves(const std::vector<JobData>& jobs,
                               const std::map<int64_t, Series>& series,
                               const std::vector<std::string>& group_by,
                               const ResultFilter& filter = {});

// One job's metric against epoch: the x of the value at a step is the
// "epoch" metric logged at the same step (`epoch_at`, by step); without one,
// step / steps_per_epoch when steps_per_epoch > 0, else the step itself, and
// then *by_epoch becomes false (it is never set to true here). One value per
// x: where two steps give the same x, the higher step's value wins. Ascending
// x.
Series SeriesByEpoch(const std::map<int64_t, double>& value_at,
                     const std::map<int64_t, double>& epoch_at, double steps_per_epoch,
                     bool* by_epoch);

}  // namespace switchyard::results

#endif  // SWITCHYARD_COMMON_RESULTS_STATS_H_
