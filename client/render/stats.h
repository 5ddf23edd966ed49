// Statistics over a sweep's jobs: final metrics per group (the `results`
// table and the bar figure) and curves per group (the curve figure).
//
// Groups are keyed by the text values of config keys (e.g. model, attention,
// tasks) and ordered by the smallest cell index among their jobs, so tables
// and figures follow the order of the sweep file. Only succeeded jobs count
// (a failed or cancelled job's last value is not a final result), and, when
// asked for (ResultFilter), the jobs a sweep's early-stopping scheduler cut
// short: stopped and paused ones, at their last value.
//
// Thread safety: pure functions over values.
#ifndef SWITCHYARD_CLIENT_RENDER_STATS_H_
#define SWITCHYARD_CLIENT_RENDER_STATS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace switchyard::client {

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

// One job as the statistics see it (converted from the wire's Job).
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

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_RENDER_STATS_H_
