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
  size_t program_params = 0;
  for (const SweepAxis& axis : sweep.axes) {
    if (config::IsProgramParamKey(axis.key)) {
      // A program's own parameter: typed and bounded, meaning is the
      // program's (common/config/job_config.h).
      if (++program_params > config::kMaxProgramParams) {
        return absl::InvalidArgumentError(absl::StrCat(
            axis.key, ": more than ", config::kMaxProgramParams,
            " params; pass the rest in one string or a file of the program's own"));
      }
      if (!seen.insert(axis.key).second) {
        return absl::InvalidArgumentError(absl::StrCat(axis.key, ": given twice"));
      }
      if (axis.values.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(axis.key, ": the list of values is empty"));
      }
      std::set<std::string> distinct;
      for (size_t i = 0; i < axis.values.size(); ++i) {
        if (std::string error = config::CheckProgramParam(axis.key, axis.values[i]);
            !error.empty()) {
          if (axis.values.size() > 1) return absl::InvalidArgumentError(absl::StrCat(error, " (item ", i + 1, ")"));
          return absl::InvalidArgumentError(error);
        }
        // The kind is part of the value: 1 and "1" are two cells.
        if (!distinct.insert(absl::StrCat(axis.values[i].index(), ":",
                                          config::ValueToString(axis.values[i])))
                 .second) {
          return absl::InvalidArgumentError(absl::StrCat(
              axis.key, ": the value ", config::ValueToString(axis.values[i]), " is listed twice"));
        }
      }
      axes.push_back(axis);
      continue;
    }
    const config::ParamSpec* spec = config::FindParam(axis.key);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          axis.key, ": unknown key", config::DidYouMean(config::ClosestParam(axis.key))));
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

// The keys that decide which model a cell trains.
bool IsModelKey(const std::string& key) {
  return key == "model" || key == "attention" || key == "preset" || key == "layers" ||
         key == "width" || key == "heads" || key == "ffn_width" || key == "positions";
}

// Two cells with equal keys train the same model: the config with attention
// "none" for mlp and lstm (they take none, so a grid over attention kinds
// does not repeat them) and with the preset replaced by the sizes it
// resolves to (paper and paper_matched share the transformer), and with
// `positions` counted for the transformer alone. Normalises
// *config's attention as a side effect, as the cell will have it.
std::string DedupKey(config::JobConfig* config) {
  if (!config::ModelHasAttention(config->Str("model"))) config->Set("attention", std::string("none"));
  config->ResolveDefaults();
  const config::ModelShape shape = config->Model();
  // The config with preset and positions at their defaults, then what they
  // resolved to.
  config::JobConfig canonical = *config;
  canonical.Set("preset", config::FindParam("preset")->default_value);
  canonical.Set("positions", config::FindParam("positions")->default_value);
  const config::ModelSizes& z = shape.sizes;
  return canonical.ToJson() + " " + std::to_string(z.layers) + "," + std::to_string(z.width) +
         "," + std::to_string(z.heads) + "," + std::to_string(z.ffn_width) + "," +
         std::to_string(z.input_width) + "," + (shape.learned_positions ? "1" : "0");
}

}  // namespace

absl::StatusOr<int64_t> CountCells(const SweepDefinition& sweep) {
  if (absl::Status status = CheckHeader(sweep); !status.ok()) return status;
  absl::StatusOr<std::vector<SweepAxis>> axes = CheckedAxes(sweep);
  if (!axes.ok()) return axes.status();
  // Cells = the distinct models the model-defining axes describe (attention
  // only for the models that take one; presets that resolve to the same
  // sizes once), times the product of the other axes.
  std::vector<const SweepAxis*> model_axes;
  int64_t models = 1, rest = 1;
  for (const SweepAxis& axis : *axes) {
    if (IsModelKey(axis.key)) {
      model_axes.push_back(&axis);
      models *= static_cast<int64_t>(axis.values.size());
    } else {
      rest *= static_cast<int64_t>(axis.values.size());
    }
    if (models > kMaxCells || rest > kMaxCells) break;
  }
  if (models <= kMaxCells && rest <= kMaxCells) {
    std::set<std::string> distinct;
    std::vector<size_t> position(model_axes.size(), 0);
    for (int64_t i = 0; i < models; ++i) {
      config::JobConfig config;
      for (size_t a = 0; a < model_axes.size(); ++a) {
        config.Set(model_axes[a]->key, model_axes[a]->values[position[a]]);
      }
      distinct.insert(DedupKey(&config));
      for (size_t a = model_axes.size(); a-- > 0;) {  // odometer, last axis fastest
        if (++position[a] < model_axes[a]->values.size()) break;
        position[a] = 0;
      }
    }
    models = static_cast<int64_t>(distinct.size());
  }
  if (models > kMaxCells || rest > kMaxCells || models * rest > kMaxCells) {
    const bool over = models > kMaxCells || rest > kMaxCells;
    return absl::InvalidArgumentError(absl::StrCat(
        "the grid has more than ", kMaxCells, " cells (", over ? "over " : "",
        over ? kMaxCells : models * rest, "); split the sweep"));
  }
  if (models * rest == 0) return absl::InvalidArgumentError("the grid has no cells");
  return models * rest;
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
    // A cell that trains the same model as an earlier one is left out.
    if (keys.insert(DedupKey(&config)).second) {
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
