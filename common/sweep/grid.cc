#include "common/sweep/grid.h"

#include <algorithm>
#include <cmath>
#include <functional>
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

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 0xCBF29CE484222325ULL;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001B3ULL;
  return hash;
}

// The scheduler's policy, and under ASHA an epochs key that can only repeat
// max_epochs; every message starts with "scheduler: ".
absl::Status CheckScheduler(const SweepDefinition& sweep) {
  if (absl::Status status = ValidateScheduler(sweep.scheduler); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("scheduler: ", status.message()));
  }
  if (sweep.scheduler.kind != SchedulerSpec::Kind::kAsha) return absl::OkStatus();
  const int64_t max_epochs = sweep.scheduler.asha.max_epochs;
  for (const SweepAxis& axis : sweep.axes) {
    if (axis.key != "epochs") continue;
    for (const config::Value& v : axis.values) {
      const int64_t* epochs = std::get_if<int64_t>(&v);
      if (epochs == nullptr || *epochs != max_epochs) {
        return absl::InvalidArgumentError(absl::StrCat(
            "scheduler: asha trains every job up to max_epochs (", max_epochs, "), but epochs is ",
            config::ValueToString(v), "; leave epochs out or make it ", max_epochs));
      }
    }
  }
  for (const SweepDistribution& d : sweep.distributions) {
    if (d.key == "epochs") {
      return absl::InvalidArgumentError(
          "scheduler: asha sets epochs to max_epochs; epochs cannot be drawn from a distribution");
    }
  }
  return absl::OkStatus();
}

// The distributions of a search, checked against their keys' kinds and
// ranges; every message starts with the key (or "search").
absl::Status CheckSearch(const SweepDefinition& sweep, const std::set<std::string>& axis_keys) {
  using Kind = SweepDistribution::Kind;
  const SearchSpec& search = sweep.search;
  if (search.method.empty()) {
    if (sweep.distributions.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(
        sweep.distributions[0].key, ": a distribution needs a search; add search: {method: "
        "random, trials: N}"));
  }
  if (search.method != "random") {
    return absl::InvalidArgumentError(
        absl::StrCat("search: unknown method '", search.method, "'; known: random"));
  }
  if (search.trials < 1 || search.trials > kMaxTrials) {
    return absl::InvalidArgumentError(absl::StrCat("search: trials: ", search.trials,
                                                   " is out of range [1, ", kMaxTrials, "]"));
  }
  if (sweep.distributions.empty()) {
    return absl::InvalidArgumentError(
        "search: no key has a distribution; give one, such as lr: {log_uniform: [1.0e-4, "
        "1.0e-2]}");
  }
  std::set<std::string> seen = axis_keys;
  for (const SweepDistribution& d : sweep.distributions) {
    const config::ParamSpec* spec = config::FindParam(d.key);
    if (spec == nullptr) {
      if (config::IsProgramParamKey(d.key)) {
        return absl::InvalidArgumentError(
            absl::StrCat(d.key, ": distributions are for the job keys; list a param's values"));
      }
      return absl::InvalidArgumentError(absl::StrCat(
          d.key, ": unknown key", config::DidYouMean(config::ClosestParam(d.key))));
    }
    if (!seen.insert(d.key).second) {
      return absl::InvalidArgumentError(absl::StrCat(d.key, ": given twice"));
    }
    const std::string kind = DistributionKindName(d.kind);
    if (d.kind == Kind::kChoice) {
      if (d.choices.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(d.key, ": choice: the list is empty"));
      }
      std::set<std::string> distinct;
      for (config::Value value : d.choices) {
        if (std::string error = config::CheckValue(*spec, &value); !error.empty()) {
          return absl::InvalidArgumentError(error);
        }
        if (!distinct.insert(config::ValueToString(value)).second) {
          return absl::InvalidArgumentError(absl::StrCat(
              d.key, ": choice: the value ", config::ValueToString(value), " is listed twice"));
        }
      }
      continue;
    }
    if (spec->kind == config::Kind::kString) {
      return absl::InvalidArgumentError(
          absl::StrCat(d.key, ": ", kind, " draws numbers; a text key takes choice: [...]"));
    }
    if (spec->kind == config::Kind::kInt && d.kind != Kind::kIntUniform) {
      return absl::InvalidArgumentError(absl::StrCat(
          d.key, ": ", kind, " draws fractions; an integer key takes int_uniform or choice"));
    }
    if (!std::isfinite(d.low) || !std::isfinite(d.high) || !(d.low < d.high)) {
      return absl::InvalidArgumentError(absl::StrCat(
          d.key, ": ", kind, ": expected [low, high] with low < high, got [",
          config::ValueToString(d.low), ", ", config::ValueToString(d.high), "]"));
    }
    if (d.kind == Kind::kIntUniform &&
        (std::floor(d.low) != d.low || std::floor(d.high) != d.high)) {
      return absl::InvalidArgumentError(absl::StrCat(
          d.key, ": int_uniform: the bounds must be integers, got [",
          config::ValueToString(d.low), ", ", config::ValueToString(d.high), "]"));
    }
    if (d.kind == Kind::kLogUniform && d.low <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          d.key, ": log_uniform: the lower bound must be above 0, got ",
          config::ValueToString(d.low)));
    }
    // Both bounds inside the key's own range: every draw then is.
    for (double bound : {d.low, d.high}) {
      config::Value value = bound;
      if (std::string error = config::CheckValue(*spec, &value); !error.empty()) {
        return absl::InvalidArgumentError(error);
      }
    }
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


// Calls visit(config) for each cell in expansion order: every combination of
// the list axes (the last varying fastest) and, under a search, each of its
// trials; a cell that trains the same job as an earlier one is skipped
// (DedupKey). Stops early when visit returns false.
void ForEachCell(const std::vector<SweepAxis>& axes, const SweepDefinition& sweep,
                 const std::function<bool(config::JobConfig)>& visit) {
  std::set<std::string> keys;
  std::vector<size_t> position(axes.size(), 0);
  const int64_t trials = sweep.search.method.empty() ? 1 : sweep.search.trials;
  while (true) {
    config::JobConfig grid_cell;
    if (sweep.scheduler.kind == SchedulerSpec::Kind::kAsha) {
      // ASHA owns the budget; an epochs axis may only repeat it (CheckScheduler).
      grid_cell.Set("epochs", int64_t{sweep.scheduler.asha.max_epochs});
    }
    for (size_t a = 0; a < axes.size(); ++a) grid_cell.Set(axes[a].key, axes[a].values[position[a]]);
    for (int64_t trial = 0; trial < trials; ++trial) {
      config::JobConfig config = grid_cell;
      for (const SweepDistribution& d : sweep.distributions) {
        config.Set(d.key, SampleDistribution(d, sweep.search.seed, trial));  // checked bounds
      }
      if (keys.insert(DedupKey(&config)).second && !visit(std::move(config))) return;
    }
    // Odometer step: the last axis varies fastest.
    size_t a = axes.size();
    while (a > 0) {
      --a;
      if (++position[a] < axes[a].values.size()) break;
      position[a] = 0;
      if (a == 0) { a = axes.size() + 1; break; }
    }
    if (axes.empty() || a == axes.size() + 1) return;
  }
}

}  // namespace

const char* DistributionKindName(SweepDistribution::Kind kind) {
  switch (kind) {
    case SweepDistribution::Kind::kUniform: return "uniform";
    case SweepDistribution::Kind::kLogUniform: return "log_uniform";
    case SweepDistribution::Kind::kIntUniform: return "int_uniform";
    case SweepDistribution::Kind::kChoice: return "choice";
  }
  return "?";
}

std::vector<std::string> DistributionKindNames() {
  return {"uniform", "log_uniform", "int_uniform", "choice"};
}

bool ParseDistributionKind(std::string_view name, SweepDistribution::Kind* kind) {
  for (auto k : {SweepDistribution::Kind::kUniform, SweepDistribution::Kind::kLogUniform,
                 SweepDistribution::Kind::kIntUniform, SweepDistribution::Kind::kChoice}) {
    if (name == DistributionKindName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

config::Value SampleDistribution(const SweepDistribution& d, int64_t seed, int64_t trial) {
  const uint64_t stream = SplitMix64(SplitMix64(static_cast<uint64_t>(seed)) ^ Fnv1a(d.key));
  const uint64_t bits = SplitMix64(stream ^ SplitMix64(static_cast<uint64_t>(trial)));
  const double u = static_cast<double>(bits >> 11) * 0x1.0p-53;  // [0, 1)
  switch (d.kind) {
    case SweepDistribution::Kind::kUniform:
      return std::min(d.low + u * (d.high - d.low), std::nextafter(d.high, d.low));
    case SweepDistribution::Kind::kLogUniform: {
      const double v = std::exp(std::log(d.low) + u * (std::log(d.high) - std::log(d.low)));
      return std::clamp(v, d.low, std::nextafter(d.high, d.low));
    }
    case SweepDistribution::Kind::kIntUniform: {
      const int64_t low = static_cast<int64_t>(d.low), high = static_cast<int64_t>(d.high);
      const double span = static_cast<double>(high - low) + 1;
      return std::min(high, low + static_cast<int64_t>(u * span));
    }
    case SweepDistribution::Kind::kChoice:
      return d.choices[std::min(d.choices.size() - 1,
                                static_cast<size_t>(u * static_cast<double>(d.choices.size())))];
  }
  return config::Value();
}

absl::StatusOr<int64_t> CountCells(const SweepDefinition& sweep) {
  if (absl::Status status = CheckHeader(sweep); !status.ok()) return status;
  absl::StatusOr<std::vector<SweepAxis>> axes = CheckedAxes(sweep);
  if (!axes.ok()) return axes.status();
  std::set<std::string> axis_keys;
  for (const SweepAxis& axis : *axes) axis_keys.insert(axis.key);
  if (absl::Status status = CheckSearch(sweep, axis_keys); !status.ok()) return status;
  if (absl::Status status = CheckScheduler(sweep); !status.ok()) return status;
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
  if (sweep.search.method.empty()) return models * rest;
  // A search: at most cells x trials jobs; exactly, the distinct ones.
  if (models * rest * sweep.search.trials > kMaxCells) {
    return absl::InvalidArgumentError(absl::StrCat(
        "search: ", models * rest, " grid cells x ", sweep.search.trials, " trials is more than the ",
        kMaxCells, " jobs a sweep may have; fewer trials or a smaller grid"));
  }
  int64_t count = 0;
  ForEachCell(*axes, sweep, [&count](config::JobConfig) { return ++count, true; });
  return count;
}

absl::StatusOr<std::vector<GridCell>> ExpandGrid(const SweepDefinition& sweep, int64_t limit) {
  absl::StatusOr<int64_t> count = CountCells(sweep);
  if (!count.ok()) return count.status();
  absl::StatusOr<std::vector<SweepAxis>> axes = CheckedAxes(sweep);
  if (!axes.ok()) return axes.status();

  std::vector<GridCell> cells;
  cells.reserve(limit > 0 ? std::min(limit, *count) : *count);
  absl::Status status;
  ForEachCell(*axes, sweep, [&](config::JobConfig config) {
    if (std::string error = config.Validate(); !error.empty()) {
      status = absl::InvalidArgumentError(
          absl::StrCat(error, " (cell ", cells.size(), ": ", config.ToJson(), ")"));
      return false;
    }
    cells.push_back(GridCell{static_cast<int64_t>(cells.size()), std::move(config)});
    return limit <= 0 || static_cast<int64_t>(cells.size()) < limit;
  });
  if (!status.ok()) return status;
  return cells;
}

std::string CellKey(const config::JobConfig& config) { return config.ToJson(); }

}  // namespace switchyard::common
