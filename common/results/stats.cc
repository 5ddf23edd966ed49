#include "common/results/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

}  // namespace

Summary Summarize(const std::vector<double>& values) {
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
    std::map<double, std::vector<double>> at_x;
    for (int64_t id : ids) {
      for (const auto& [x, value] : series.at(id)) at_x[x].push_back(value);
    }
    for (const auto& [x, values] : at_x) curve.points.push_back(CurvePoint{x, Summarize(values)});
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
