#include "common/sweep/sweep_file.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <utility>

#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "common/base/utf8.h"

namespace switchyard::common {
namespace {

constexpr const char* kHeaderKeys[] = {"name", "priority", "max_attempts", "search", "scheduler"};

absl::Status ErrorAt(const std::string& origin, const YAML::Mark& mark, const std::string& message) {
  if (mark.is_null()) return absl::InvalidArgumentError(absl::StrCat(origin, ": ", message));
  return absl::InvalidArgumentError(
      absl::StrCat(origin, ":", mark.line + 1, ":", mark.column + 1, ": ", message));
}

// A YAML scalar as the value of a program's own parameter, whose kind the
// file decides: a quoted scalar is a string, else an integer, else a finite
// number, else a string. So `hidden: 64` is 64, `lr: 1.0e-3` a number and
// `cell: gru` a string.
std::string ScalarToParamValue(const YAML::Node& node, config::Value* out) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!" || text.empty()) {
    *out = text;
    return "";
  }
  errno = 0;
  char* end = nullptr;
  const long long integer = std::strtoll(text.c_str(), &end, 10);
  if (*end == '\0') {
    if (errno != 0) return absl::StrCat("the integer '", text, "' is out of range");
    *out = static_cast<int64_t>(integer);
    return "";
  }
  const std::string lowered = absl::AsciiStrToLower(text);
  if (lowered == ".nan" || lowered == ".inf" || lowered == "-.inf" || lowered == "+.inf") {
    return absl::StrCat("expected a finite number, got '", text, "'");
  }
  const double number = std::strtod(text.c_str(), &end);
  if (*end == '\0' && std::isfinite(number)) {
    *out = number;
    return "";
  }
  *out = text;
  return "";
}

// A YAML scalar as the value of a parameter of the given kind. Quoted scalars
// stay strings ("tag" is "!" for them), so `tasks: "IA"` and `seed: "1"` do
// what they say.
std::string ScalarToValue(const YAML::Node& node, config::Kind kind, config::Value* out) {
  const std::string& text = node.Scalar();
  bool quoted = node.Tag() == "!";
  if (kind == config::Kind::kString) {
    *out = text;
    return "";
  }
  if (quoted) {
    return absl::StrCat(kind == config::Kind::kInt ? "expected an " : "expected a ",
                        config::KindName(kind), ", got the string \"", text, "\"");
  }
  if (kind == config::Kind::kInt) {
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (!text.empty() && *end == '\0' && errno == 0) {
      *out = static_cast<int64_t>(v);
      return "";
    }
    // Accept 1e3 style integers; CheckValue refuses a fractional part.
    double d = std::strtod(text.c_str(), &end);
    if (!text.empty() && *end == '\0') {
      *out = d;
      return "";
    }
    return absl::StrCat("expected an integer, got '", text, "'");
  }
  char* end = nullptr;
  std::string lowered = absl::AsciiStrToLower(text);
  if (lowered == ".nan" || lowered == ".inf" || lowered == "-.inf" || lowered == "nan" ||
      lowered == "inf") {
    return absl::StrCat("expected a finite number, got '", text, "'");
  }
  double d = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') return absl::StrCat("expected a number, got '", text, "'");
  *out = d;
  return "";
}

absl::StatusOr<int32_t> HeaderInt(const YAML::Node& node, const std::string& key,
                                  const std::string& origin) {
  if (!node.IsScalar()) return ErrorAt(origin, node.Mark(), absl::StrCat(key, ": expected an integer"));
  config::Value value;
  if (std::string error = ScalarToValue(node, config::Kind::kInt, &value); !error.empty()) {
    return ErrorAt(origin, node.Mark(), absl::StrCat(key, ": ", error));
  }
  const auto* v = std::get_if<int64_t>(&value);
  if (v == nullptr || *v < std::numeric_limits<int32_t>::min() ||
      *v > std::numeric_limits<int32_t>::max()) {
    return ErrorAt(origin, node.Mark(), absl::StrCat(key, ": expected a small integer, got '",
                                                     node.Scalar(), "'"));
  }
  return static_cast<int32_t>(*v);
}

// Where each key and each of its values is written in the file.
struct Marks {
  std::map<std::string, YAML::Mark> keys;
  std::map<std::string, std::vector<YAML::Mark>> values;  // one per listed value
};

// A value of a cell's config JSON as the registry's kind, for comparing it
// with the values the file lists.
std::string JsonValueText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return config::ValueToString(v.get<int64_t>());
  if (v.is_number()) return config::ValueToString(v.get<double>());
  return v.dump();
}

// Whole-grid checks (CountCells, ExpandGrid) know keys, not lines. Their
// messages start with the key at fault ("heads: 4 does not divide width 30
// (cell 0: {...})"): point at that key's value in the file (the listed value
// the failing cell took), and shorten the cell's full config to the keys
// whose lists span the grid. A one-cell sweep needs no cell.
absl::Status GridError(const std::string& origin, const absl::Status& status,
                       const SweepDefinition& sweep, const Marks& marks) {
  std::string message(status.message());
  const std::string key = message.substr(0, message.find(':'));
  std::optional<YAML::Mark> where;
  if (auto k = marks.keys.find(key); k != marks.keys.end()) where = k->second;
  size_t cell = message.find(" (cell ");
  size_t brace = cell == std::string::npos ? std::string::npos : message.find(": {", cell);
  if (brace != std::string::npos && message.back() == ')') {
    nlohmann::json config = nlohmann::json::parse(
        message.substr(brace + 2, message.size() - brace - 3), nullptr, /*allow_exceptions=*/false);
    if (config.is_object()) {
      std::string values;
      for (const SweepAxis& axis : sweep.axes) {
        // A program's param sits in the config's "params" object.
        const bool param = config::IsProgramParamKey(axis.key);
        const std::string name =
            param ? axis.key.substr(config::kProgramParamPrefix.size()) : axis.key;
        const nlohmann::json& holder = param && config.contains("params") ? config["params"] : config;
        if ((param && !config.contains("params")) || !holder.contains(name)) continue;
        const std::string text = JsonValueText(holder[name]);
        if (axis.key == key && marks.values.count(key)) {
          for (size_t i = 0; i < axis.values.size(); ++i) {
            if (config::ValueToString(axis.values[i]) == text) where = marks.values.at(key)[i];
          }
        }
        if (axis.values.size() > 1) absl::StrAppend(&values, values.empty() ? "" : ", ", axis.key, "=", text);
      }
      // "<error> (cell N: {json})" -> "<error> (cell N: k=v, ...)" or "<error>".
      const std::string cell_name = message.substr(cell + 2, brace - cell - 2);
      message = values.empty() ? message.substr(0, cell)
                               : absl::StrCat(message.substr(0, cell), " (", cell_name, ": ",
                                              values, ")");
    }
  }
  if (message.rfind("the grid has more than", 0) == 0) {
    // Say how many cells there are, and point at the longest list.
    double models_with = 0, models_without = 0, attention_kinds = 1, rest = 1;
    const SweepAxis* longest = nullptr;
    for (const SweepAxis& axis : sweep.axes) {
      if (longest == nullptr || axis.values.size() > longest->values.size()) longest = &axis;
      if (axis.key == "model") {
        for (const config::Value& v : axis.values) {
          const auto* model = std::get_if<std::string>(&v);
          (model != nullptr && config::ModelHasAttention(*model) ? models_with : models_without) += 1;
        }
      } else if (axis.key == "attention") {
        attention_kinds = static_cast<double>(axis.values.size());
      } else {
        rest *= static_cast<double>(axis.values.size());
      }
    }
    if (models_with + models_without == 0) models_with = 1;  // the default model takes attention
    double cells = (models_with * attention_kinds + models_without) * rest;
    message = absl::StrCat("the grid has ",
                           cells < 1e15 ? absl::StrCat(static_cast<int64_t>(cells)) : "over 10^15",
                           " cells, more than the ", kMaxCells,
                           " allowed; shorten a list or split the sweep");
    where.reset();
    if (longest != nullptr && marks.keys.count(longest->key)) where = marks.keys.at(longest->key);
  }
  if (where.has_value()) return ErrorAt(origin, *where, message);
  return absl::InvalidArgumentError(absl::StrCat(origin, ": ", message));
}

// `search: {method: random, trials: N, seed: S}`.
absl::Status ParseSearch(const YAML::Node& node, const YAML::Mark& key_mark,
                         const std::string& origin, SearchSpec* search) {
  if (!node.IsMap()) {
    return ErrorAt(origin, node.IsNull() ? key_mark : node.Mark(),
                   "search: expected a mapping such as {method: random, trials: 27, seed: 1}");
  }
  const std::vector<std::string> fields = {"method", "trials", "seed"};
  for (const auto& entry : node) {
    const std::string field = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
      const std::string hint = config::ClosestOf(field, fields);
      return ErrorAt(origin, entry.first.Mark(),
                     absl::StrCat("search: unknown field '", field, "'",
                                  hint.empty() ? "; known: method, trials, seed"
                                               : config::DidYouMean(hint)));
    }
    const YAML::Node& value = entry.second;
    if (!value.IsScalar()) {
      return ErrorAt(origin, value.Mark(), absl::StrCat("search: ", field, ": expected a value"));
    }
    if (field == "method") {
      search->method = value.Scalar();
      continue;
    }
    config::Value v;
    if (std::string error = ScalarToValue(value, config::Kind::kInt, &v); !error.empty()) {
      return ErrorAt(origin, value.Mark(), absl::StrCat("search: ", field, ": ", error));
    }
    const auto* i = std::get_if<int64_t>(&v);
    if (i == nullptr || *i < 0) {
      return ErrorAt(origin, value.Mark(), absl::StrCat("search: ", field,
                                                        ": expected a whole number from 0, got '",
                                                        value.Scalar(), "'"));
    }
    (field == "trials" ? search->trials : search->seed) = *i;
  }
  if (search->method.empty()) {
    return ErrorAt(origin, node.Mark(), "search: method: missing; the one method is random");
  }
  return absl::OkStatus();
}

// `scheduler: {kind: asha|median|none, ...}` (scheduler.h). The fields a
// kind takes are checked here, with their positions; the policy's ranges by
// ValidateScheduler (through CountCells), so the coordinator refuses the same.
absl::Status ParseScheduler(const YAML::Node& node, const YAML::Mark& key_mark,
                            const std::string& origin, SchedulerSpec* scheduler) {
  if (!node.IsMap()) {
    return ErrorAt(origin, node.IsNull() ? key_mark : node.Mark(),
                   "scheduler: expected a mapping such as {kind: asha, metric: accuracy, mode: "
                   "max, min_epochs: 1, max_epochs: 27, reduction: 3}");
  }
  const YAML::Node kind_node = node["kind"];
  if (!kind_node || !kind_node.IsScalar()) {
    return ErrorAt(origin, kind_node ? kind_node.Mark() : node.Mark(),
                   "scheduler: kind: missing; one of asha, median, none");
  }
  if (!ParseSchedulerKind(kind_node.Scalar(), &scheduler->kind)) {
    const std::string hint = config::ClosestOf(kind_node.Scalar(), SchedulerKindNames());
    return ErrorAt(origin, kind_node.Mark(),
                   absl::StrCat("scheduler: kind: unknown scheduler '", kind_node.Scalar(), "'",
                                hint.empty() ? "; known: asha, median, none"
                                             : config::DidYouMean(hint)));
  }
  const std::vector<std::string> fields = SchedulerFields(scheduler->kind);
  const char* kind = SchedulerKindName(scheduler->kind);
  bool has_metric = false, has_max_epochs = false;
  for (const auto& entry : node) {
    const std::string field = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
      const std::string hint = config::ClosestOf(field, fields);
      return ErrorAt(origin, entry.first.Mark(),
                     absl::StrCat("scheduler: ", kind, " has no field '", field, "'",
                                  hint.empty() ? absl::StrCat("; its fields: ",
                                                              absl::StrJoin(fields, ", "))
                                               : config::DidYouMean(hint)));
    }
    if (field == "kind") continue;
    const YAML::Node& value = entry.second;
    if (!value.IsScalar()) {
      return ErrorAt(origin, value.Mark(), absl::StrCat("scheduler: ", field, ": expected a value"));
    }
    if (field == "metric") {
      (scheduler->kind == SchedulerSpec::Kind::kAsha ? scheduler->asha.metric
                                                     : scheduler->median.metric) = value.Scalar();
      has_metric = true;
      continue;
    }
    if (field == "mode") {
      if (value.Scalar() != "max" && value.Scalar() != "min") {
        return ErrorAt(origin, value.Mark(),
                       absl::StrCat("scheduler: mode: expected max or min, got '", value.Scalar(),
                                    "'"));
      }
      (scheduler->kind == SchedulerSpec::Kind::kAsha ? scheduler->asha.maximize
                                                     : scheduler->median.maximize) =
          value.Scalar() == "max";
      continue;
    }
    config::Value v;
    std::string error = ScalarToValue(value, config::Kind::kInt, &v);
    const auto* i = std::get_if<int64_t>(&v);
    if (!error.empty() || i == nullptr || *i < 0 || *i > kMaxSchedulerEpochs) {
      return ErrorAt(origin, value.Mark(),
                     absl::StrCat("scheduler: ", field, ": expected a whole number from 0 to ",
                                  kMaxSchedulerEpochs, ", got '", value.Scalar(), "'"));
    }
    const int n = static_cast<int>(*i);
    if (field == "min_epochs") scheduler->asha.min_epochs = n;
    if (field == "max_epochs") scheduler->asha.max_epochs = n, has_max_epochs = true;
    if (field == "reduction") scheduler->asha.reduction = n;
    if (field == "warmup_epochs") scheduler->median.warmup_epochs = n;
  }
  if (scheduler->kind != SchedulerSpec::Kind::kNone && !has_metric) {
    return ErrorAt(origin, node.Mark(),
                   absl::StrCat("scheduler: metric: missing; name the metric ", kind,
                                " ranks jobs by, such as metric: accuracy"));
  }
  if (scheduler->kind == SchedulerSpec::Kind::kAsha && !has_max_epochs) {
    return ErrorAt(origin, node.Mark(),
                   "scheduler: max_epochs: missing; the epochs a job that survives every rung "
                   "trains, such as max_epochs: 27");
  }
  return absl::OkStatus();
}

// `KEY: {KIND: [...]}`: a distribution of a job key (grid.h).
absl::StatusOr<SweepDistribution> ParseDistribution(const std::string& key,
                                                    const config::ParamSpec& spec,
                                                    const YAML::Node& node,
                                                    const std::string& origin) {
  const std::vector<std::string> kinds = DistributionKindNames();
  const std::string expected = absl::StrCat(
      key, ": expected a value, a list of values or a distribution such as {log_uniform: [1.0e-4, "
      "1.0e-2]}");
  if (node.size() != 1) return ErrorAt(origin, node.Mark(), expected);
  const auto entry = *node.begin();
  const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
  SweepDistribution d;
  d.key = key;
  if (!ParseDistributionKind(name, &d.kind)) {
    const std::string hint = config::ClosestOf(name, kinds);
    return ErrorAt(origin, entry.first.Mark(),
                   hint.empty() ? absl::StrCat(expected, "; known: ", absl::StrJoin(kinds, ", "))
                                : absl::StrCat(key, ": unknown distribution '", name, "'",
                                               config::DidYouMean(hint)));
  }
  const YAML::Node& items = entry.second;
  if (!items.IsSequence()) {
    return ErrorAt(origin, items.Mark(),
                   absl::StrCat(key, ": ", name, ": expected a list, such as ",
                                d.kind == SweepDistribution::Kind::kChoice ? "[1, 2, 4]" : "[low, high]"));
  }
  if (d.kind != SweepDistribution::Kind::kChoice && items.size() != 2) {
    return ErrorAt(origin, items.Mark(), absl::StrCat(key, ": ", name, ": expected [low, high]"));
  }
  std::vector<double> bounds;
  for (const auto& item : items) {
    if (!item.IsScalar()) {
      return ErrorAt(origin, item.Mark(), absl::StrCat(key, ": ", name, ": expected a single value"));
    }
    config::Value v;
    const config::Kind kind = d.kind == SweepDistribution::Kind::kChoice ? spec.kind : config::Kind::kFloat;
    if (std::string error = ScalarToValue(item, kind, &v); !error.empty()) {
      return ErrorAt(origin, item.Mark(), absl::StrCat(key, ": ", name, ": ", error));
    }
    if (d.kind == SweepDistribution::Kind::kChoice) {
      d.choices.push_back(std::move(v));
    } else {
      bounds.push_back(std::get<double>(v));
    }
  }
  if (!bounds.empty()) {
    d.low = bounds[0];
    d.high = bounds[1];
  }
  return d;
}

// A job key's hint (aliases included), else a header key's.
std::string ClosestKey(std::string_view key) {
  if (std::string param = config::ClosestParam(key); !param.empty()) return param;
  return config::ClosestOf(key, std::vector<std::string>(std::begin(kHeaderKeys), std::end(kHeaderKeys)));
}

}  // namespace

absl::StatusOr<SweepDefinition> ParseSweepText(std::string_view text,
                                               std::string_view origin_view) {
  // Debian's Abseil has its own string_view, which std::string_view does not
  // convert to; one std::string keeps StrCat happy.
  const std::string origin(origin_view);
  // Every string of a sweep ends up in a protobuf string field, which must
  // be UTF-8; say where the file is not, rather than let gRPC refuse the
  // request later without naming anything.
  if (std::optional<size_t> bad = FirstInvalidUtf8(text); bad.has_value()) {
    const std::string_view before = text.substr(0, *bad);
    const size_t line_start = before.rfind('\n');
    const size_t line = static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
    const size_t column = line_start == std::string_view::npos ? *bad : *bad - line_start - 1;
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned char>(text[*bad]));
    return absl::InvalidArgumentError(absl::StrCat(origin, ":", line + 1, ":", column + 1,
                                                   ": not valid UTF-8 (byte ", hex,
                                                   "); save the file as UTF-8"));
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    return ErrorAt(origin, e.mark, absl::StrCat("YAML syntax error: ", e.msg));
  } catch (const YAML::Exception& e) {
    return ErrorAt(origin, e.mark, e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": the file is empty; expected keys such as model, tasks, seed"));
  }
  if (!root.IsMap()) {
    return ErrorAt(origin, root.Mark(), "expected a mapping of keys to values at the top level");
  }

  SweepDefinition sweep;
  Marks marks;
  // The top-level entries, with a `params:` mapping's entries in its place
  // as "params.NAME" keys.
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    YAML::Node value;
  };
  std::vector<Entry> entries;
  bool params_seen = false;
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) return ErrorAt(origin, entry.first.Mark(), "expected a key name");
    if (entry.first.Scalar() != "params") {
      entries.push_back(Entry{entry.first.Scalar(), entry.first.Mark(), entry.second});
      continue;
    }
    if (std::exchange(params_seen, true)) {
      return ErrorAt(origin, entry.first.Mark(), "params: given twice");
    }
    if (!entry.second.IsMap()) {
      return ErrorAt(origin, entry.second.IsNull() ? entry.first.Mark() : entry.second.Mark(),
                     "params: expected a mapping of the program's parameters, such as "
                     "params: {hidden: [32, 64], cell: gru}");
    }
    for (const auto& param : entry.second) {
      if (!param.first.IsScalar()) {
        return ErrorAt(origin, param.first.Mark(), "params: expected a parameter name");
      }
      entries.push_back(Entry{std::string(config::kProgramParamPrefix) + param.first.Scalar(),
                              param.first.Mark(), param.second});
    }
  }
  for (const Entry& entry : entries) {
    const std::string& key = entry.key;
    const YAML::Mark& key_mark = entry.key_mark;
    const YAML::Node& value = entry.value;
    if (!marks.keys.emplace(key, key_mark).second) {
      return ErrorAt(origin, key_mark, absl::StrCat(key, ": given twice"));
    }
    if (key == "name") {
      if (!value.IsScalar()) return ErrorAt(origin, value.Mark(), "name: expected a string");
      sweep.name = value.Scalar();
      continue;
    }
    if (key == "search") {
      if (absl::Status status = ParseSearch(value, key_mark, origin, &sweep.search); !status.ok()) {
        return status;
      }
      continue;
    }
    if (key == "scheduler") {
      if (absl::Status status = ParseScheduler(value, key_mark, origin, &sweep.scheduler);
          !status.ok()) {
        return status;
      }
      continue;
    }
    if (key == "priority" || key == "max_attempts") {
      absl::StatusOr<int32_t> v = HeaderInt(value, key, origin);
      if (!v.ok()) return v.status();
      (key == "priority" ? sweep.priority : sweep.max_attempts) = *v;
      continue;
    }
    const bool program_param = config::IsProgramParamKey(key);
    const config::ParamSpec* spec = program_param ? nullptr : config::FindParam(key);
    if (spec == nullptr && !program_param) {
      return ErrorAt(origin, key_mark,
                     absl::StrCat(key, ": unknown key", config::DidYouMean(ClosestKey(key))));
    }
    SweepAxis axis{key, {}};
    std::vector<YAML::Node> items;
    if (value.IsSequence()) {
      if (value.size() == 0) {
        return ErrorAt(origin, value.Mark(), absl::StrCat(key, ": the list is empty; give at least one value"));
      }
      for (const auto& item : value) items.push_back(item);
    } else if (value.IsScalar()) {
      items.push_back(value);
    } else if (value.IsNull()) {
      return ErrorAt(origin, key_mark, absl::StrCat(key, ": no value given"));
    } else if (spec != nullptr) {
      absl::StatusOr<SweepDistribution> d = ParseDistribution(key, *spec, value, origin);
      if (!d.ok()) return d.status();
      sweep.distributions.push_back(*std::move(d));
      continue;
    } else {
      return ErrorAt(origin, value.Mark(),
                     absl::StrCat(key, ": expected a value or a list of values, got a mapping"));
    }
    std::set<std::string> seen;
    for (const YAML::Node& item : items) {
      if (!item.IsScalar()) {
        return ErrorAt(origin, item.Mark(),
                       absl::StrCat(key, ": expected a single ",
                                    program_param ? "number or string"
                                                  : config::KindName(spec->kind),
                                    " in the list, got a nested structure"));
      }
      config::Value v;
      if (std::string error = program_param ? ScalarToParamValue(item, &v)
                                            : ScalarToValue(item, spec->kind, &v);
          !error.empty()) {
        return ErrorAt(origin, item.Mark(), absl::StrCat(key, ": ", error));
      }
      if (std::string error = program_param ? config::CheckProgramParam(key, v)
                                            : config::CheckValue(*spec, &v);
          !error.empty()) {
        return ErrorAt(origin, program_param && error.find("is not a parameter name") !=
                                                    std::string::npos
                                   ? key_mark
                                   : item.Mark(),
                       error);
      }
      // A set, not a scan of the earlier values: a list of 100,000 seeds
      // took minutes that way. A param's kind is part of its value.
      if (!seen.insert(absl::StrCat(program_param ? v.index() : 0, ":",
                                    config::ValueToString(v)))
               .second) {
        return ErrorAt(origin, item.Mark(), absl::StrCat(key, ": the value ",
                                                         config::ValueToString(v),
                                                         " is listed twice"));
      }
      axis.values.push_back(std::move(v));
      marks.values[key].push_back(item.Mark());
    }
    sweep.axes.push_back(std::move(axis));
  }
  // Whole-grid checks (sizes, cross-field validity) with the file as origin.
  absl::StatusOr<int64_t> cells = CountCells(sweep);
  if (!cells.ok()) return GridError(origin, cells.status(), sweep, marks);
  absl::StatusOr<std::vector<GridCell>> first = ExpandGrid(sweep, /*limit=*/0);
  if (!first.ok()) return GridError(origin, first.status(), sweep, marks);
  return sweep;
}

absl::StatusOr<SweepDefinition> ParseSweepFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (buffer.str().size() > (4 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": larger than 4 MiB"));
  }
  return ParseSweepText(buffer.str(), path);
}

}  // namespace switchyard::common
