#include "common/config/job_config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

namespace switchyard::config {
namespace {

constexpr double kMaxSafeInt = 9007199254740992.0;  // 2^53: exact in a double and in JSON

std::vector<ParamSpec> BuildRegistry() {
  auto int_param = [](std::string name, Group group, int64_t def, double min, double max,
                      std::string help) {
    return ParamSpec{std::move(name), Kind::kInt, group, Value(def), std::move(help), {}, min, max};
  };
  auto float_param = [](std::string name, Group group, double def, double min, double max,
                        std::string help) {
    return ParamSpec{std::move(name), Kind::kFloat, group, Value(def), std::move(help), {}, min, max};
  };
  auto enum_param = [](std::string name, Group group, std::string def,
                       std::vector<std::string> choices, std::string help) {
    return ParamSpec{std::move(name), Kind::kString, group, Value(std::move(def)),
                     std::move(help), std::move(choices), 0, 0};
  };
  auto text_param = [](std::string name, Group group, std::string def, std::string help) {
    return ParamSpec{std::move(name), Kind::kString, group, Value(std::move(def)), std::move(help),
                     {}, 0, 0};
  };
  return {
      // What is trained.
      enum_param("model", Group::kJob, "transformer", {"mlp", "lstm", "transformer", "cisformer"},
                 "model family"),
      enum_param("attention", Group::kJob, "auto", {"auto", "none", "softmax", "expressive"},
                 "attention kind for transformer and cisformer; none for mlp and lstm; "
                 "auto picks softmax or none"),
      text_param("tasks", Group::kTask, "IARC",
                 "task set: a non-empty subset of IARC in that order, with one of I, A, R"),
      int_param("seed", Group::kJob, 0, 0, kMaxSafeInt, "seed of the training windows and of the "
                "weight initialisation"),
      enum_param("preset", Group::kModel, "small", {"small", "paper"},
                 "model sizes: small (fast on a CPU) or paper (the sizes of the paper)"),
      // Model sizes; 0 takes the preset's value.
      int_param("layers", Group::kModel, 0, 0, 256, "layers (0 = preset)"),
      int_param("width", Group::kModel, 0, 0, 8192,
                "model width: transformer/cisformer d_model, LSTM and MLP hidden size (0 = preset)"),
      int_param("heads", Group::kModel, 0, 0, 64, "attention heads (0 = preset)"),
      int_param("ffn_width", Group::kModel, 0, 0, 65536, "feed-forward hidden width (0 = preset)"),
      // Training.
      int_param("epochs", Group::kTraining, 10, 0, 1000000, "epochs; 0 = a no-op job"),
      int_param("steps_per_epoch", Group::kTraining, 100, 1, 10000000, "training steps per epoch"),
      int_param("batch_size", Group::kTraining, 500, 1, 1000000, "windows per training step"),
      float_param("lr", Group::kTraining, 1e-3, 1e-7, 10.0, "Adam learning rate"),
      int_param("eval_windows", Group::kTraining, 10000, 1, 10000000,
                "held-out windows evaluated after every epoch"),
      int_param("eval_seed", Group::kTraining, 1000003, 0, kMaxSafeInt,
                "seed of the held-out evaluation set (shared by every job by default)"),
      int_param("checkpoint_every", Group::kTraining, 100, 0, 1000000000,
                "checkpoint every this many steps (0 = only at the end of each epoch)"),
      int_param("debug_nan_at_step", Group::kTraining, -1, -1, 1000000000,
                "testing aid: force a NaN loss at this step (-1 = never)"),
      // Task options (../shared/specs/iarc.md).
      int_param("d", Group::kTask, 20, 3, 4096, "one-hot width; N = d - |tasks| numbers"),
      int_param("switch_min", Group::kTask, 3, 2, 100000, "shortest distance between control tokens"),
      int_param("switch_max", Group::kTask, 9, 2, 100000, "longest distance between control tokens"),
      int_param("context_length", Group::kTask, 24, 1, 100000, "window length Nc"),
      int_param("burn_in", Group::kTask, -1, -1, 10000000,
                "tokens skipped before a window (-1 = a safe default, see docs/iarc.md)"),
      enum_param("c_mode", Group::kTask, "per_token", {"per_token", "per_step"},
                 "how C raises the increment of an I task"),
      enum_param("layout", Group::kTask, "separate", {"separate", "attached"},
                 "control tokens at positions of their own, or carried by the next number"),
      int_param("first_control_without_c", Group::kTask, 1, 0, 1,
                "1: the first control token of a stream is never C"),
  };
}

// The shortest text that reads back as the same double ("10", "0.001", "1e-07").
std::string FormatNumber(double v) {
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  if (error != std::errc()) return std::to_string(v);
  return std::string(buffer, end);
}

std::string JoinChoices(const std::vector<std::string>& choices) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) out += ", ";
    out += choices[i];
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kInt: return "integer";
    case Kind::kFloat: return "number";
    case Kind::kString: return "string";
  }
  return "?";
}

std::string ValueToString(const Value& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) return FormatNumber(*d);
  return std::get<std::string>(value);
}

const std::vector<ParamSpec>& AllParams() {
  static const std::vector<ParamSpec>* const registry = new std::vector<ParamSpec>(BuildRegistry());
  return *registry;
}

const ParamSpec* FindParam(std::string_view name) {
  for (const ParamSpec& spec : AllParams()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string ClosestOf(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const std::string& candidate : candidates) {
    size_t distance = EditDistance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string ClosestParam(std::string_view name) {
  std::vector<std::string> names;
  for (const ParamSpec& spec : AllParams()) names.push_back(spec.name);
  return ClosestOf(name, names);
}

std::string CheckValue(const ParamSpec& spec, Value* value) {
  switch (spec.kind) {
    case Kind::kInt: {
      int64_t v = 0;
      if (const auto* i = std::get_if<int64_t>(value)) {
        v = *i;
      } else if (const auto* d = std::get_if<double>(value)) {
        if (!std::isfinite(*d) || std::floor(*d) != *d || std::fabs(*d) > kMaxSafeInt) {
          return spec.name + ": expected an integer, got " + FormatNumber(*d);
        }
        v = static_cast<int64_t>(*d);
      } else {
        return spec.name + ": expected an integer, got the string '" +
               std::get<std::string>(*value) + "'";
      }
      if (v < spec.min || v > spec.max) {
        return spec.name + ": " + std::to_string(v) + " is out of range [" +
               FormatNumber(spec.min) + ", " + FormatNumber(spec.max) + "]";
      }
      *value = v;
      return "";
    }
    case Kind::kFloat: {
      double v = 0;
      if (const auto* i = std::get_if<int64_t>(value)) {
        v = static_cast<double>(*i);
      } else if (const auto* d = std::get_if<double>(value)) {
        v = *d;
      } else {
        return spec.name + ": expected a number, got the string '" +
               std::get<std::string>(*value) + "'";
      }
      if (!std::isfinite(v) || v < spec.min || v > spec.max) {
        return spec.name + ": " + FormatNumber(v) + " is out of range [" + FormatNumber(spec.min) +
               ", " + FormatNumber(spec.max) + "]";
      }
      *value = v;
      return "";
    }
    case Kind::kString: {
      const auto* s = std::get_if<std::string>(value);
      if (s == nullptr) {
        return spec.name + ": expected " +
               (spec.choices.empty() ? std::string("a string")
                                     : "one of " + JoinChoices(spec.choices)) +
               ", got " + ValueToString(*value);
      }
      if (!spec.choices.empty() &&
          std::find(spec.choices.begin(), spec.choices.end(), *s) == spec.choices.end()) {
        return spec.name + ": unknown value '" + *s + "'; known: " + JoinChoices(spec.choices);
      }
      if (s->size() > 256) return spec.name + ": longer than 256 characters";
      return "";
    }
  }
  return spec.name + ": unknown kind";
}

std::string ParseValue(const ParamSpec& spec, std::string_view text, Value* out) {
  if (spec.kind == Kind::kString) {
    *out = std::string(text);
    return CheckValue(spec, out);
  }
  std::string copy(text);
  char* end = nullptr;
  if (spec.kind == Kind::kInt) {
    errno = 0;
    long long v = std::strtoll(copy.c_str(), &end, 10);
    if (copy.empty() || *end != '\0' || errno == ERANGE) {
      return spec.name + ": expected an integer, got '" + copy + "'";
    }
    *out = static_cast<int64_t>(v);
  } else {
    double v = std::strtod(copy.c_str(), &end);
    if (copy.empty() || *end != '\0') {
      return spec.name + ": expected a number, got '" + copy + "'";
    }
    *out = v;
  }
  return CheckValue(spec, out);
}

bool ModelHasAttention(std::string_view model) {
  return model == "transformer" || model == "cisformer";
}

JobConfig::JobConfig() {
  for (const ParamSpec& spec : AllParams()) values_.emplace(spec.name, spec.default_value);
}

std::string JobConfig::Set(std::string_view key, Value value) {
  const ParamSpec* spec = FindParam(key);
  if (spec == nullptr) {
    return std::string(key) + ": unknown key; did you mean '" + ClosestParam(key) + "'?";
  }
  if (std::string error = CheckValue(*spec, &value); !error.empty()) return error;
  values_.find(key)->second = std::move(value);
  return "";
}

std::string JobConfig::SetFromString(std::string_view key, std::string_view text) {
  const ParamSpec* spec = FindParam(key);
  if (spec == nullptr) {
    return std::string(key) + ": unknown key; did you mean '" + ClosestParam(key) + "'?";
  }
  Value value;
  if (std::string error = ParseValue(*spec, text, &value); !error.empty()) return error;
  values_.find(key)->second = std::move(value);
  return "";
}

void JobConfig::ResolveDefaults() {
  std::string& attention = std::get<std::string>(values_.find("attention")->second);
  if (attention == "auto") {
    attention = ModelHasAttention(Str("model")) ? "softmax" : "none";
  }
}

std::string JobConfig::Validate() const {
  const std::string& model = Str("model");
  const std::string& attention = Str("attention");
  if (ModelHasAttention(model)) {
    if (attention == "none") {
      return "attention: model " + model + " needs an attention kind; known: softmax, expressive";
    }
  } else if (attention != "none" && attention != "auto") {
    return "attention: model " + model + " has no attention; use none (got '" + attention + "')";
  }
  int64_t width = Int("width");
  int64_t heads = Int("heads");
  if (ModelHasAttention(model) && width > 0 && heads > 0 && width % heads != 0) {
    return "heads: " + std::to_string(heads) + " does not divide width " + std::to_string(width);
  }
  if (std::string error = tasks::ValidateOptions(TaskOptions()); !error.empty()) return error;
  return "";
}

const Value& JobConfig::Get(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    std::cerr << "JobConfig: no key '" << key << "' (a bug)\n";
    std::abort();
  }
  return it->second;
}

int64_t JobConfig::Int(std::string_view key) const {
  const auto* v = std::get_if<int64_t>(&Get(key));
  if (v == nullptr) {
    std::cerr << "JobConfig: key '" << key << "' is not an integer (a bug)\n";
    std::abort();
  }
  return *v;
}

double JobConfig::Float(std::string_view key) const {
  const auto* v = std::get_if<double>(&Get(key));
  if (v == nullptr) {
    std::cerr << "JobConfig: key '" << key << "' is not a number (a bug)\n";
    std::abort();
  }
  return *v;
}

const std::string& JobConfig::Str(std::string_view key) const {
  const auto* v = std::get_if<std::string>(&Get(key));
  if (v == nullptr) {
    std::cerr << "JobConfig: key '" << key << "' is not a string (a bug)\n";
    std::abort();
  }
  return *v;
}

std::string JobConfig::ToJson() const {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  // std::map: sorted keys. No structured binding: clang 14 (the fuzz build)
  // cannot capture one in a lambda.
  for (const auto& entry : values_) {
    const std::string& key = entry.first;
    std::visit([&](const auto& v) { object[key] = v; }, entry.second);
  }
  return object.dump();
}

std::string JobConfig::FromJson(std::string_view json, JobConfig* out) {
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return "config: not valid JSON";
  if (!parsed.is_object()) return "config: expected a JSON object";
  JobConfig config;
  for (const auto& [key, item] : parsed.items()) {
    Value value;
    if (item.is_number_integer()) {
      value = item.get<int64_t>();
    } else if (item.is_number()) {
      value = item.get<double>();
    } else if (item.is_string()) {
      value = item.get<std::string>();
    } else {
      return key + ": expected a number or a string";
    }
    if (std::string error = config.Set(key, std::move(value)); !error.empty()) return error;
  }
  *out = std::move(config);
  return "";
}

tasks::IarcOptions JobConfig::TaskOptions() const {
  tasks::IarcOptions options;
  options.tasks = Str("tasks");
  options.d = static_cast<int>(Int("d"));
  options.switch_min = static_cast<int>(Int("switch_min"));
  options.switch_max = static_cast<int>(Int("switch_max"));
  options.context_length = static_cast<int>(Int("context_length"));
  options.burn_in = static_cast<int>(Int("burn_in"));
  tasks::ParseCMode(Str("c_mode"), &options.c_mode);
  tasks::ParseLayout(Str("layout"), &options.layout);
  options.first_control_without_c = Int("first_control_without_c") != 0;
  return options;
}

}  // namespace switchyard::config
