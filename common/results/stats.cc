#include "common/results/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/config/job_config.h"

namespace switchyard::results {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<std::string> KeyOf(const JobData& job, const std::vector<std::string>& group_by) {
  std::vector<std::string> key;
  key.reserve(group_by.size());
  for (const std::string& name : group_by) key.push_back(job.Config(name));
  return key;
}

// Groups in order of their first cell, so output follows the sweep file.
struct GroupOrder {
  std::map<std::vector<std::string>, int64_t> first_cell;
  std::vector<std::vector<std::string>> Sorted() const {
    std::vector<std::pair<int64_t, std::vector<std::string>>> order;
    for (const auto& [key, cell] : first_cell) order.emplace_back(cell, key);
    std::sort(order.begin(), order.end());
    std::vector<std::vector<std::string>> keys;
    for (auto& [cell, key] : order) keys.push_back(std::move(key));
    return keys;
  }
  void Note(const std::vector<std::string>& key, int64_t cell) {
    auto [it, inserted] = first_cell.emplace(key, cell);
    if (!inserted) it->second = std::min(it->second, cell);
  }
};

Summary SummarizeValues(std::span<const double> values) {
  Summary s;
  s.n = static_cast<int64_t>(values.size());
  if (values.empty()) {
    s.mean = s.stddev = s.min = s.max = kNaN;
    return s;
  }
  double sum = 0;
  s.min = s.max = values[0];
  for (double v : values) {
    sum += v;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
  }
  s.mean = sum / static_cast<double>(values.size());
  if (values.size() < 2) {
    s.stddev = kNaN;
    return s;
  }
  // Two passes: the textbook one-pass formula loses precision when the
  // values are close together, as seeds' accuracies are.
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(squares / static_cast<double>(values.size() - 1));
  return s;
}

// One series sorted by x (a stable sort keeps a job's order at equal x),
// without NaN x; `scratch` holds it when `s` is not already so.
const Series& SortedByX(const Series& s, Series* scratch) {
  bool sorted = true;
  for (size_t i = 0; i < s.size() && sorted; ++i) {
    sorted = !std::isnan(s[i].first) && (i == 0 || s[i - 1].first <= s[i].first);
  }
  if (sorted) return s;
  scratch->clear();
  for (const auto& point : s) {
    if (!std::isnan(point.first)) scratch->push_back(point);
  }
  std::stable_sort(scratch->begin(), scratch->end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return *scratch;
}

// The summary at each x of the series' values there, ascending x; at one x
// the values are taken in the order of `members`, then of each series, so
// that sums do not depend on how they were gathered. Two flat passes (count,
// then place) instead of a map of vectors: a 1,000-job sweep's Aggregate
// summarises a million points per metric.
std::vector<CurvePoint> SummarizeAtEachX(const std::vector<const Series*>& members) {
  std::vector<Series> scratch(members.size());
  std::vector<const Series*> sorted(members.size());
  for (size_t m = 0; m < members.size(); ++m) sorted[m] = &SortedByX(*members[m], &scratch[m]);
  // The distinct x's. Jobs of one grid usually log the same steps, so a
  // series equal to the union so far costs one comparison per point.
  std::vector<double> xs;
  std::vector<double> merged;
  for (const Series* s : sorted) {
    bool same = s->size() <= xs.size();
    for (size_t i = 0, j = 0; same && i < s->size(); ++i) {
      while (j < xs.size() && xs[j] < (*s)[i].first) ++j;
      same = j < xs.size() && xs[j] == (*s)[i].first;
    }
    if (same) continue;
    merged.clear();
    size_t j = 0;
    for (const auto& [x, value] : *s) {
      while (j < xs.size() && xs[j] < x) merged.push_back(xs[j++]);
      if (j < xs.size() && xs[j] == x) ++j;
      if (merged.empty() || merged.back() != x) merged.push_back(x);
    }
    merged.insert(merged.end(), xs.begin() + static_cast<std::ptrdiff_t>(j), xs.end());
    xs.swap(merged);
  }
  // Each series' points land at their x's index, found by walking xs.
  const auto for_each_index = [&](const Series& s, const auto& visit) {
    size_t j = 0;
    for (const auto& [x, value] : s) {
      while (xs[j] < x) ++j;
      visit(j, value);
    }
  };
  std::vector<size_t> start(xs.size() + 1, 0);
  for (const Series* s : sorted) for_each_index(*s, [&](size_t j, double) { ++start[j + 1]; });
  for (size_t j = 0; j < xs.size(); ++j) start[j + 1] += start[j];
  std::vector<double> values(start.back());
  std::vector<size_t> next(start.begin(), start.end() - 1);
  for (const Series* s : sorted) {
    for_each_index(*s, [&](size_t j, double value) { values[next[j]++] = value; });
  }
  std::vector<CurvePoint> points;
  points.reserve(xs.size());
  for (size_t j = 0; j < xs.size(); ++j) {
    points.push_back(CurvePoint{
        xs[j], SummarizeValues(std::span<const double>(values.data() + start[j], start[j + 1] - start[j]))});
  }
  return points;
}

}  // namespace

Summary Summarize(const std::vector<double>& values) { return SummarizeValues(values); }

std::string JobData::Config(const std::string& key) const {
  auto it = config.find(key);
  return it == config.end() ? std::string() : it->second;
}

bool JobData::OwnProgram() const {
  const std::string program = Config("program");
  return !program.empty() && program != config::kBuiltinProgram;
}

std::pair<std::string, std::string> JobData::Trains() const {
  if (!OwnProgram()) return {Config("model"), Config("attention")};
  std::string params;
  for (const auto& [key, value] : config) {
    if (!config::IsProgramParamKey(key)) continue;
    absl::StrAppend(&params, params.empty() ? "" : " ",
                    key.substr(config::kProgramParamPrefix.size()), "=", value);
  }
  return {Config("program"), params};
}

std::map<std::string, std::string> ConfigText(const std::string& config_json) {
  std::map<std::string, std::string> out;
  nlohmann::json config = nlohmann::json::parse(config_json, nullptr, false);
  if (!config.is_object()) return out;
  const auto text = [](const nlohmann::json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
    if (value.is_number()) return config::ValueToString(value.get<double>());
    return value.dump();
  };
  for (const auto& [key, value] : config.items()) {
    if (key == "params" && value.is_object()) {
      // A program's own parameters, as the keys a sweep file gives them.
      for (const auto& [name, param] : value.items()) {
        out[std::string(config::kProgramParamPrefix) + name] = text(param);
      }
      continue;
    }
    out[key] = text(value);
  }
  return out;
}

bool ResultFilter::Includes(const JobData& job) const {
  if (job.state == "succeeded") return true;
  return include_stopped && (job.state == "stopped" || job.state == "paused");
}

std::vector<GroupResult> GroupFinalMetrics(const std::vector<JobData>& jobs,
                                           const std::string& metric,
                                           const std::vector<std::string>& group_by,
                                           const ResultFilter& filter) {
  GroupOrder order;
  std::map<std::vector<std::string>, std::vector<std::pair<int64_t, double>>> values;
  for (const JobData& job : jobs) {
    if (!filter.Includes(job)) continue;
    auto it = job.final_metrics.find(metric);
    if (it == job.final_metrics.end()) continue;
    std::vector<std::string> key = KeyOf(job, group_by);
    order.Note(key, job.cell_index);
    values[key].emplace_back(job.id, it->second);
  }
  std::vector<GroupResult> results;
  for (std::vector<std::string>& key : order.Sorted()) {
    auto& members = values[key];
    std::sort(members.begin(), members.end());  // by job id: a fixed summation order
    GroupResult result;
    std::vector<double> v;
    for (const auto& [id, value] : members) {
      result.job_ids.push_back(id);
      v.push_back(value);
    }
    result.summary = Summarize(v);
    result.key = std::move(key);
    results.push_back(std::move(result));
  }
  return results;
}

std::vector<Curve> GroupCurves(const std::vector<JobData>& jobs,
                               const std::map<int64_t, Series>& series,
                               const std::vector<std::string>& group_by,
                               const ResultFilter& filter) {
  GroupOrder order;
  std::map<std::vector<std::string>, std::vector<int64_t>> members;
  for (const JobData& job : jobs) {
    if (!filter.Includes(job)) continue;
    auto it = series.find(job.id);
    if (it == series.end() || it->second.empty()) continue;
    std::vector<std::string> key = KeyOf(job, group_by);
    order.Note(key, job.cell_index);
    members[key].push_back(job.id);
  }
  std::vector<Curve> curves;
  for (std::vector<std::string>& key : order.Sorted()) {
    Curve curve;
    std::vector<int64_t>& ids = members[key];
    std::sort(ids.begin(), ids.end());
    std::vector<const Series*> members_series;
    members_series.reserve(ids.size());
    for (int64_t id : ids) members_series.push_back(&series.at(id));
    curve.points = SummarizeAtEachX(members_series);
    curve.job_ids = ids;
    curve.key = std::move(key);
    curves.push_back(std::move(curve));
  }
  return curves;
}

Series SeriesByEpoch(const std::map<int64_t, double>& value_at,
                     const std::map<int64_t, double>& epoch_at, double steps_per_epoch,
                     bool* by_epoch) {
  std::map<double, double> points;  // one value per x: the latest step wins
  for (const auto& [step, value] : value_at) {
    double x;
    if (auto e = epoch_at.find(step); e != epoch_at.end()) {
      x = e->second;
    } else if (steps_per_epoch > 0) {
      x = static_cast<double>(step) / steps_per_epoch;
    } else {
      x = static_cast<double>(step);
      *by_epoch = false;
    }
    points[x] = value;
  }
  return Series(points.begin(), points.end());
}

}  // namespace switchyard::results
