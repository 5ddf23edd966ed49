#include "common/sweep/grid.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace switchyard::common {
namespace {

absl::Status CheckHeader(const SweepDefinition& sweep) {
  if (sweep.name.size() > 200) {
    return absl::InvalidArgumentError("name: longer than 200 characters");
  }
  if (sweep.priority < -1000 || sweep.priority > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("priority: ", sweep.priority, " is out of range [-1000, 1000]"));
  }
  if (sweep.max_attempts < 0 || sweep.max_attempts > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_attempts: ", sweep.max_attempts, " is out of range [1, 100]"));
  }
  return absl::OkStatus();
}

// The values of each axis, converted to their parameter's kind.
absl::StatusOr<std::vector<SweepAxis>> CheckedAxes(const SweepDefinition& sweep) {
  std::vector<SweepAxis> axes;
  std::set<std::string> seen;
  for (const SweepAxis& axis : sweep.axes) {
    const config::ParamSpec* spec = config::FindParam(axis.key);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(axis.key, ": unknown key; did you mean '",
                                                     config::ClosestParam(axis.key), "'?"));
    }
    if (!seen.insert(axis.key).second) {
      return absl::InvalidArgumentError(absl::StrCat(axis.key, ": given twice"));
    }
    if (axis.values.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(axis.key, ": the list of values is empty"));
    }
    SweepAxis checked{axis.key, {}};
    std::set<std::string> distinct;
    for (size_t i = 0; i < axis.values.size(); ++i) {
      config::Value value = axis.values[i];
      if (std::string error = config::CheckValue(*spec, &value); !error.empty()) {
        if (axis.values.size() > 1) return absl::InvalidArgumentError(absl::StrCat(error, " (item ", i + 1, ")"));
        return absl::InvalidArgumentError(error);
      }
      if (!distinct.insert(config::ValueToString(value)).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            axis.key, ": the value ", config::ValueToString(value), " is listed twice"));
      }
      checked.values.push_back(std::move(value));
    }
    axes.push_back(std::move(checked));
  }
  return axes;
}

bool AxisIs(const SweepAxis& axis, const char* key) { return axis.key == key; }

}  // namespace

absl::StatusOr<int64_t> CountCells(const SweepDefinition& sweep) {
  if (absl::Status status = CheckHeader(sweep); !status.ok()) return status;
  absl::StatusOr<std::vector<SweepAxis>> axes = CheckedAxes(sweep);
  if (!axes.ok()) return axes.status();
  // Cells = product over axes, except that attention multiplies only the
  // models that take one.
  int64_t models_with_attention = 0, models_without = 0, attention_kinds = 1, rest = 1;
  bool has_model_axis = false;
  for (const SweepAxis& axis : *axes) {
    if (AxisIs(axis, "model")) {
      has_model_axis = true;
      for (const config::Value& v : axis.values) {
        (config::ModelHasAttention(std::get<std::string>(v)) ? models_with_attention
                                                             : models_without)++;
      }
    } else if (AxisIs(axis, "attention")) {
      attention_kinds = static_cast<int64_t>(axis.values.size());
    } else {
      rest *= static_cast<int64_t>(axis.values.size());
      if (rest > kMaxCells) break;
    }
  }
  if (!has_model_axis) {
    config::JobConfig defaults;
    (config::ModelHasAttention(defaults.Str("model")) ? models_with_attention : models_without) = 1;
  }
  int64_t cells = (models_with_attention * attention_kinds + models_without) * rest;
  if (rest > kMaxCells || cells > kMaxCells) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the grid has more than ", kMaxCells, " cells (", rest > kMaxCells ? "over " : "",
        rest > kMaxCells ? kMaxCells : cells, "); split the sweep"));
  }
  if (cells == 0) return absl::InvalidArgumentError("the grid has no cells");
  return cells;
}

absl::StatusOr<std::vector<GridCell>> ExpandGrid(const SweepDefinition& sweep, int64_t limit) {
  absl::StatusOr<int64_t> count = CountCells(sweep);
  if (!count.ok()) return count.status();
  absl::StatusOr<std::vector<SweepAxis>> axes = CheckedAxes(sweep);
  if (!axes.ok()) return axes.status();

  std::vector<GridCell> cells;
  cells.reserve(limit > 0 ? std::min(limit, *count) : *count);
  std::set<std::string> keys;
  std::vector<size_t> position(axes->size(), 0);
  while (true) {
    config::JobConfig config;
    for (size_t a = 0; a < axes->size(); ++a) {
      std::string error = config.Set((*axes)[a].key, (*axes)[a].values[position[a]]);
      if (!error.empty()) return absl::InternalError(error);  // checked above
    }
    // mlp and lstm cells are not duplicated per attention kind.
    if (!config::ModelHasAttention(config.Str("model"))) config.Set("attention", std::string("none"));
    config.ResolveDefaults();
    if (keys.insert(CellKey(config)).second) {
      if (std::string error = config.Validate(); !error.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(error, " (cell ", cells.size(), ": ", config.ToJson(), ")"));
      }
      cells.push_back(GridCell{static_cast<int64_t>(cells.size()), std::move(config)});
      if (limit > 0 && static_cast<int64_t>(cells.size()) >= limit) break;
    }
    // Odometer step: the last axis varies fastest.
    size_t a = axes->size();
    while (a > 0) {
      --a;
      if (++position[a] < (*axes)[a].values.size()) break;
      position[a] = 0;
      if (a == 0) { a = axes->size() + 1; break; }
    }
    if (axes->empty() || a == axes->size() + 1) break;
  }
  return cells;
}

std::string CellKey(const config::JobConfig& config) { return config.ToJson(); }

}  // namespace switchyard::common
