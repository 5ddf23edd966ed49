#include "server/core/views.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/config/job_config.h"

namespace switchyard::server {
namespace {

absl::Status CheckMaxPoints(int32_t max_points, const char* zero_means) {
  if (max_points < 0 || max_points > kMaxSeriesPoints) {
    return absl::InvalidArgumentError(absl::StrCat("max_points: must be from 0 (", zero_means,
                                                   ") to ", kMaxSeriesPoints, ", got ",
                                                   max_points));
  }
  return absl::OkStatus();
}

absl::Status CheckName(const std::string& field, const std::string& name,
                       int64_t max_name_bytes) {
  if (name.empty() || static_cast<int64_t>(name.size()) > max_name_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": a metric name is 1 to ", max_name_bytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSeriesQuery(const SeriesQuery& query, int64_t max_name_bytes) {
  if (absl::Status s = CheckMaxPoints(query.max_points, "the default, 1000"); !s.ok()) return s;
  if (query.job_ids.size() > kMaxViewJobIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("job_ids: at most ", kMaxViewJobIds, " ids, got ", query.job_ids.size()));
  }
  for (size_t i = 0; i < query.job_ids.size(); ++i) {
    if (query.job_ids[i] <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("job_ids[", i, "]: must be a positive id, got ", query.job_ids[i]));
    }
  }
  if (query.names.size() > kMaxViewNames) {
    return absl::InvalidArgumentError(
        absl::StrCat("names: at most ", kMaxViewNames, " names, got ", query.names.size()));
  }
  for (size_t i = 0; i < query.names.size(); ++i) {
    if (absl::Status s = CheckName(absl::StrCat("names[", i, "]"), query.names[i], max_name_bytes);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AggregateX> CheckAggregateQuery(const AggregateQuery& query,
                                               int64_t max_name_bytes) {
  if (absl::Status s = CheckName("name", query.name, max_name_bytes); !s.ok()) return s;
  AggregateX x;
  if (query.x.empty() || query.x == "step") {
    x = AggregateX::kStep;
  } else if (query.x == "epoch") {
    x = AggregateX::kEpoch;
  } else if (query.x == "final") {
    x = AggregateX::kFinal;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "x: must be step, epoch or final, got '", query.x.substr(0, 64), "'"));
  }
  if (query.group_by.size() > kMaxGroupByKeys) {
    return absl::InvalidArgumentError(absl::StrCat("group_by: at most ", kMaxGroupByKeys,
                                                   " keys, got ", query.group_by.size()));
  }
  for (size_t i = 0; i < query.group_by.size(); ++i) {
    const std::string& key = query.group_by[i];
    const std::string field = absl::StrCat("group_by[", i, "]");
    if (key.size() > kMaxGroupByKeyBytes) {  // before messages that quote it
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": a config key is at most ", kMaxGroupByKeyBytes, " bytes"));
    }
    if (config::IsProgramParamKey(key)) {
      if (std::string error = config::CheckProgramParam(key, std::string()); !error.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": ", error));
      }
      continue;
    }
    if (config::FindParam(key) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": unknown key '", key.substr(0, 64), "'",
                       config::DidYouMean(config::ClosestParam(key))));
    }
  }
  if (absl::Status s = CheckMaxPoints(query.max_points, "every x"); !s.ok()) return s;
  return x;
}

results::JobData ToJobData(const JobRecord& job) {
  results::JobData data;
  data.id = job.id;
  data.sweep_id = job.sweep_id;
  data.cell_index = job.cell_index;
  data.state = JobStateName(job.state);
  data.last_cause = job.last_cause;
  data.final_metrics = job.final_metrics;
  data.config = results::ConfigText(job.config_json);
  return data;
}

std::vector<results::CurvePoint> ThinCurve(const std::vector<results::CurvePoint>& points,
                                           int32_t max_points) {
  const size_t n = points.size();
  if (max_points <= 0 || n <= static_cast<size_t>(max_points)) return points;
  std::set<size_t> keep;
  size_t highest = 0, lowest = 0;
  for (size_t i = 1; i < n; ++i) {
    if (points[i].y.mean > points[highest].y.mean) highest = i;
    if (points[i].y.mean < points[lowest].y.mean) lowest = i;
  }
  keep.insert(highest);
  keep.insert(lowest);
  const size_t spaced = static_cast<size_t>(std::max(max_points - 2, 0));
  if (spaced == 0) {
    // The extremes alone.
  } else if (spaced == 1) {
    keep.insert(n - 1);  // the last x: where the runs ended
  } else {
    for (size_t j = 0; j < spaced; ++j) {
      keep.insert(static_cast<size_t>(
          std::llround(static_cast<double>(j) * static_cast<double>(n - 1) /
                       static_cast<double>(spaced - 1))));
    }
  }
  std::vector<results::CurvePoint> out;
  out.reserve(keep.size());
  for (size_t i : keep) out.push_back(points[i]);
  return out;
}

}  // namespace switchyard::server
