#include "common/config/job_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

namespace switchyard::config {
namespace {

constexpr double kMaxSafeInt = 9007199254740992.0;  // 2^53: exact in a double and in JSON

// The separation generator's own defaults, so that the keys and
// `switchyard sample` cannot drift apart.
const tasks::SeparationOptions kSeparationDefaults;

std::vector<std::string> TaskNames() {
  std::vector<std::string> names = {"iarc"};
  for (tasks::TaskFamily family :
       {tasks::TaskFamily::kIndexLookup, tasks::TaskFamily::kDyck,
        tasks::TaskFamily::kNearestNeighbor, tasks::TaskFamily::kStringEquality}) {
    names.emplace_back(tasks::TaskFamilyName(family));
  }
  return names;
}

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
  ParamSpec program = text_param(
      "program", Group::kJob, std::string(kBuiltinProgram),
      "the training program: switchyard-train (built in) or the NAME of a program the workers "
      "were started with (--program NAME=PATH, docs/trainer-protocol.md); its own parameters go "
      "under params:");
  program.names_a_program = true;
  return {
      // What is trained.
      std::move(program),
      enum_param("model", Group::kJob, "transformer", {"mlp", "lstm", "transformer", "cisformer"},
                 "model family"),
      enum_param("attention", Group::kJob, "auto", {"auto", "none", "softmax", "expressive"},
                 "attention kind for transformer and cisformer; none for mlp and lstm; "
                 "auto picks softmax or none"),
      enum_param("task", Group::kTask, "iarc", TaskNames(),
                 "the task: iarc (task switching, ../shared/specs/iarc.md) or a separation task "
                 "(../shared/specs/separations.md, docs/tasks.md): the answer at the last token"),
      text_param("tasks", Group::kTask, "IARC",
                 "task set: a non-empty subset of IARC in that order, with one of I, A, R"),
      int_param("seed", Group::kJob, 0, 0, kMaxSafeInt, "seed of the training windows and of the "
                "weight initialisation"),
      enum_param("preset", Group::kModel, "small", PresetNames(),
                 "model sizes: small (fast on a CPU), paper (the sizes of the paper) or "
                 "paper_matched (every family near the paper transformer's 1.3M parameters)"),
      // Model sizes; 0 takes the preset's value.
      int_param("layers", Group::kModel, 0, 0, 256, "layers (0 = preset)"),
      int_param("width", Group::kModel, 0, 0, 8192,
                "model width: transformer/cisformer d_model, LSTM and MLP hidden size (0 = preset)"),
      int_param("heads", Group::kModel, 0, 0, 64, "attention heads (0 = preset)"),
      int_param("ffn_width", Group::kModel, 0, 0, 65536, "feed-forward hidden width (0 = preset)"),
      enum_param("positions", Group::kModel, "alibi", {"alibi", "learned"},
                 "transformer: ALiBi alone, or ALiBi and a learned absolute position embedding "
                 "(tasks that address positions, such as index_lookup, need it); the other "
                 "models ignore it"),
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
      // Separation-task options (../shared/specs/separations.md).
      int_param("length", Group::kTask, 0, 0, tasks::kMaxLength,
                "input tokens of a separation task (0 = 20, or 21 for string_equality)"),
      int_param("vocab", Group::kTask, 0, 0, tasks::kMaxVocab,
                "symbols (index_lookup, string_equality) or points (nearest_neighbor); "
                "0 = the task's default (64, or 2 for string_equality)"),
      int_param("depth", Group::kTask, kSeparationDefaults.depth, 1, tasks::kMaxDepth,
                "dyck: the most nesting"),
      int_param("labels", Group::kTask, kSeparationDefaults.labels, 2, tasks::kMaxVocab,
                "nearest_neighbor: labels"),
      enum_param("negatives", Group::kTask,
                 tasks::DyckNegativesName(kSeparationDefaults.negatives), {"mixed", "flip", "swap"},
                 "dyck: how a negative differs from a positive string (flip a bracket's type, "
                 "swap two tokens, or half each)"),
      enum_param("mismatches", Group::kTask,
                 tasks::MismatchesName(kSeparationDefaults.mismatches), {"mixed", "one", "uniform"},
                 "string_equality: how many positions a negative's b differs in"),
  };
}

// Which tasks read which keys (ParamSpec::read_by); keys not listed are read
// by every job.
void SetReaders(std::vector<ParamSpec>* registry) {
  const std::vector<std::string> iarc = {"iarc"};
  const std::map<std::string, std::vector<std::string>> readers = {
      {"tasks", iarc},
      {"d", iarc},
      {"switch_min", iarc},
      {"switch_max", iarc},
      {"context_length", iarc},
      {"burn_in", iarc},
      {"c_mode", iarc},
      {"layout", iarc},
      {"first_control_without_c", iarc},
      {"length", {"index_lookup", "dyck", "nearest_neighbor", "string_equality"}},
      {"vocab", {"index_lookup", "nearest_neighbor", "string_equality"}},
      {"depth", {"dyck"}},
      {"labels", {"nearest_neighbor"}},
      {"negatives", {"dyck"}},
      {"mismatches", {"string_equality"}},
  };
  for (ParamSpec& spec : *registry) {
    if (auto it = readers.find(spec.name); it != readers.end()) spec.read_by = it->second;
  }
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

// Optimal string alignment distance (Levenshtein plus swaps of neighbours),
// ignoring case: "modle" is one step from "model".
size_t EditDistance(std::string_view a_text, std::string_view b_text) {
  std::string a(a_text), b(b_text);
  for (char& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// How many edits still read as a typo of a word of this length: one for a
// short word, two from five letters, three from nine. More than that and the
// "closest" word is usually another word altogether (learning_rate is
// nearer to priority than to lr by edit distance).
size_t TypoBudget(size_t length) { return length <= 4 ? 1 : length <= 8 ? 2 : 3; }

// The names other tools (PyTorch, Hugging Face, Optuna, W&B examples) give
// to our keys. Keys are lower case.
const std::map<std::string, std::string, std::less<>>& Aliases() {
  static const auto* const aliases = new std::map<std::string, std::string, std::less<>>{
      {"learning_rate", "lr"},        {"learningrate", "lr"},    {"lr_rate", "lr"},
      {"num_layers", "layers"},       {"n_layers", "layers"},    {"nlayers", "layers"},
      {"num_hidden_layers", "layers"}, {"n_layer", "layers"},
      {"d_model", "width"},           {"hidden_size", "width"},  {"hidden_dim", "width"},
      {"n_embd", "width"},            {"dim", "width"},          {"embed_dim", "width"},
      {"num_heads", "heads"},         {"n_heads", "heads"},      {"nhead", "heads"},
      {"n_head", "heads"},            {"num_attention_heads", "heads"},
      {"d_ff", "ffn_width"},          {"dim_feedforward", "ffn_width"},
      {"intermediate_size", "ffn_width"}, {"ffn_dim", "ffn_width"},
      {"batch", "batch_size"},        {"bs", "batch_size"},      {"batchsize", "batch_size"},
      {"steps", "steps_per_epoch"},   {"num_steps", "steps_per_epoch"},
      {"model_type", "model"},        {"arch", "model"},         {"architecture", "model"},
      {"attention_type", "attention"}, {"attn", "attention"},
      {"random_seed", "seed"},        {"num_epochs", "epochs"},  {"n_epochs", "epochs"},
      {"max_epochs", "epochs"},
      {"seq_len", "context_length"},  {"sequence_length", "context_length"},
      {"block_size", "context_length"}, {"max_len", "context_length"},
  };
  return *aliases;
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
  static const std::vector<ParamSpec>* const registry = [] {
    auto* params = new std::vector<ParamSpec>(BuildRegistry());
    SetReaders(params);
    return params;
  }();
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
  size_t best_distance = TypoBudget(name.size()) + 1;
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
  std::string lowered(name);
  for (char& c : lowered) {
    c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (auto alias = Aliases().find(lowered); alias != Aliases().end()) return alias->second;
  std::vector<std::string> names;
  for (const ParamSpec& spec : AllParams()) names.push_back(spec.name);
  return ClosestOf(lowered, names);
}

std::string DidYouMean(std::string_view suggestion) {
  if (suggestion.empty()) return "";
  return "; did you mean '" + std::string(suggestion) + "'?";
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
      if (spec.names_a_program) return CheckProgramName(spec.name, *s);
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

std::string CheckProgramName(std::string_view what, std::string_view name) {
  const std::string prefix = std::string(what) + ": ";
  if (name.find('/') != std::string_view::npos) {
    return prefix + "'" + std::string(name) + "' is a path; name a program instead. A sweep " +
           "never says which file runs: each worker maps names to executables it was started " +
           "with (switchyard-worker --program NAME=PATH), see docs/security.md";
  }
  if (name.empty()) return prefix + "empty; name a program such as " + std::string(kBuiltinProgram);
  if (name.size() > 64) return prefix + "longer than 64 characters";
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) {
    return prefix + "'" + std::string(name) + "' must start with a letter or a digit";
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return prefix + "'" + std::string(name) +
             "' may hold only letters, digits, '-', '_' and '.'";
    }
  }
  return "";
}

bool IsProgramParamKey(std::string_view key) {
  return key.substr(0, kProgramParamPrefix.size()) == kProgramParamPrefix;
}

std::string CheckProgramParam(std::string_view key, const Value& value) {
  const std::string name(key.substr(kProgramParamPrefix.size()));
  const std::string prefix = std::string(key) + ": ";
  if (!IsProgramParamKey(key) || name.empty()) return prefix + "expected params.NAME";
  if (name.size() > kMaxProgramParamName) {
    return prefix + "the name is longer than " + std::to_string(kMaxProgramParamName) +
           " characters";
  }
  const auto identifier_char = [](char c, bool first) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
           (!first && std::isdigit(static_cast<unsigned char>(c)));
  };
  for (size_t i = 0; i < name.size(); ++i) {
    if (!identifier_char(name[i], i == 0)) {
      return prefix + "'" + name +
             "' is not a parameter name: letters, digits and '_', not starting with a digit";
    }
  }
  if (const auto* d = std::get_if<double>(&value); d != nullptr && !std::isfinite(*d)) {
    return prefix + "expected a finite number, got " + FormatNumber(*d);
  }
  if (const auto* s = std::get_if<std::string>(&value);
      s != nullptr && s->size() > kMaxProgramParamText) {
    return prefix + "longer than " + std::to_string(kMaxProgramParamText) + " bytes";
  }
  return "";
}

bool ModelHasAttention(std::string_view model) {
  return model == "transformer" || model == "cisformer";
}

JobConfig::JobConfig() {
  for (const ParamSpec& spec : AllParams()) values_.emplace(spec.name, spec.default_value);
}

std::string JobConfig::Set(std::string_view key, Value value) {
  if (IsProgramParamKey(key)) {
    if (std::string error = CheckProgramParam(key, value); !error.empty()) return error;
    const std::string_view name = key.substr(kProgramParamPrefix.size());
    if (params_.find(name) == params_.end() && params_.size() >= kMaxProgramParams) {
      return std::string(key) + ": more than " + std::to_string(kMaxProgramParams) +
             " params; pass the rest in one string or a file of the program's own";
    }
    params_[std::string(name)] = std::move(value);
    return "";
  }
  const ParamSpec* spec = FindParam(key);
  if (spec == nullptr) {
    return std::string(key) + ": unknown key" + DidYouMean(ClosestParam(key));
  }
  if (std::string error = CheckValue(*spec, &value); !error.empty()) return error;
  values_.find(key)->second = std::move(value);
  return "";
}

std::string JobConfig::SetFromString(std::string_view key, std::string_view text) {
  if (IsProgramParamKey(key)) return Set(key, std::string(text));
  const ParamSpec* spec = FindParam(key);
  if (spec == nullptr) {
    return std::string(key) + ": unknown key" + DidYouMean(ClosestParam(key));
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

ModelShape JobConfig::Model() const {
  ModelShape shape;
  shape.model = Str("model");
  shape.attention = Str("attention");
  if (shape.attention == "auto") shape.attention = ModelHasAttention(shape.model) ? "softmax" : "none";
  shape.preset = Str("preset");
  if (IsIarc()) {
    const tasks::IarcOptions task = TaskOptions();
    shape.vocab = task.d;
    shape.numbers = tasks::NumberCount(task);
    shape.context_length = task.context_length;
  } else {
    const tasks::SeparationOptions task = SeparationTaskOptions();
    shape.vocab = tasks::TokenCount(task);
    shape.numbers = tasks::AnswerCount(task);
    shape.context_length = tasks::WindowLength(task);
  }
  const Preset* preset = FindPreset(shape.preset, shape.model);
  if (preset != nullptr) shape.sizes = preset->sizes;
  // The registry bounds every size far below INT_MAX.
  shape.given.layers = static_cast<int>(Int("layers"));
  shape.given.width = static_cast<int>(Int("width"));
  if (shape.given.layers > 0) shape.sizes.layers = shape.given.layers;
  if (shape.given.width > 0) shape.sizes.width = shape.given.width;
  if (ModelHasAttention(shape.model)) {
    shape.given.heads = static_cast<int>(Int("heads"));
    shape.given.ffn_width = static_cast<int>(Int("ffn_width"));
    if (shape.given.heads > 0) shape.sizes.heads = shape.given.heads;
    // The cisformer's maps are per position already.
    shape.learned_positions = shape.model == "transformer" && Str("positions") == "learned";
    if (shape.given.ffn_width > 0) shape.sizes.ffn_width = shape.given.ffn_width;
  } else {
    // heads and ffn_width are ignored for mlp and lstm, so that a sweep may
    // cross them with the models that take them.
    shape.sizes.heads = 0;
    shape.sizes.ffn_width = 0;
  }
  return shape;
}

double ParameterCount(const ModelShape& s) {
  const double d = s.vocab, n = s.numbers, nc = s.context_length;
  const double layers = s.sizes.layers, w = s.sizes.width, f = s.sizes.ffn_width;
  const double read_out = w * n + n;
  if (s.model == "mlp") {
    // Input map over the (lag, id) pairs of the window, layers - 1 residual
    // hidden layers, read-out.
    return (nc * d) * w + w + (layers - 1) * (w * w + w) + read_out;
  }
  if (s.model == "lstm") {
    const double e = s.sizes.input_width;
    // Input lookup; each layer 4h(in + h) weights and two bias vectors of 4h.
    return d * e + e + 4 * w * (e + w) + 8 * w + (layers - 1) * (4 * w * (2 * w) + 8 * w) +
           read_out;
  }
  // Transformer and cisformer: input lookup, per block two LayerNorms, QKV,
  // output projection and feed-forward; a final LayerNorm and the read-out.
  // The cisformer has one copy of each per-token map per position.
  const double maps = (3 * w * w + 3 * w) + (w * w + w) + (w * f + f) + (f * w + w);
  const double copies = s.model == "cisformer" ? nc : 1;
  const double positions = s.learned_positions ? nc * w : 0;
  return d * w + w + positions + layers * (4 * w + copies * maps) + 2 * w + read_out;
}

namespace {

std::string WithThousands(double value) {
  std::string digits = std::to_string(static_cast<long long>(value));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

// The first size key the job set itself, in the order a user reaches for to
// shrink a model; "preset" when every size came from the preset.
std::string SizeKeyToBlame(const ModelShape& shape) {
  if (shape.given.width > 0) return "width";
  if (shape.given.ffn_width > 0) return "ffn_width";
  if (shape.given.layers > 0) return "layers";
  return "preset";
}

}  // namespace

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
  // A key the job's task does not read must keep its default: `tasks: IA`
  // with `task: dyck` is a mistake, not a no-op.
  const std::string& task = Str("task");
  for (const ParamSpec& spec : AllParams()) {
    if (spec.read_by.empty() ||
        std::find(spec.read_by.begin(), spec.read_by.end(), task) != spec.read_by.end()) {
      continue;
    }
    if (Get(spec.name) != spec.default_value) {
      const bool text = spec.kind == Kind::kString;
      return spec.name + ": " + (text ? "'" : "") + ValueToString(Get(spec.name)) +
             (text ? "'" : "") + " is an option of task" + (spec.read_by.size() > 1 ? "s " : " ") +
             JoinChoices(spec.read_by) + ", not of " + task + "; leave it out";
    }
  }
  if (IsIarc()) {
    if (std::string error = tasks::ValidateOptions(TaskOptions()); !error.empty()) return error;
  } else {
    if (std::string error = tasks::ValidateOptions(SeparationTaskOptions()); !error.empty()) {
      return error;
    }
  }
  const ModelShape shape = Model();
  if (FindPreset(shape.preset, shape.model) == nullptr) {
    return "preset: no preset '" + shape.preset + "' for model " + model;  // a table gap: a bug
  }
  if (ModelHasAttention(model) && shape.sizes.width % shape.sizes.heads != 0) {
    const std::string width = std::to_string(shape.sizes.width);
    const std::string heads = std::to_string(shape.sizes.heads);
    const std::string from_preset = ", from preset " + shape.preset + ")";
    if (shape.given.heads == 0) {
      return "width: " + width + " is not divisible by heads (" + heads + from_preset;
    }
    if (shape.given.width == 0) {
      return "heads: " + heads + " does not divide width (" + width + from_preset;
    }
    return "heads: " + heads + " does not divide width " + width;
  }
  if (const double parameters = ParameterCount(shape); parameters > kMaxParameters) {
    const ModelSizes& z = shape.sizes;
    std::string sizes = "layers " + std::to_string(z.layers) + ", width " + std::to_string(z.width);
    if (ModelHasAttention(model)) sizes += ", ffn_width " + std::to_string(z.ffn_width);
    if (model == "mlp" || model == "cisformer") {  // they grow with the window
      sizes += IsIarc() ? ", context_length " + std::to_string(shape.context_length)
                        : ", length " + std::to_string(SeparationTaskOptions().length);
    }
    return SizeKeyToBlame(shape) + ": this " + model + " (" + sizes + ") has " +
           (parameters < 1e15 ? WithThousands(parameters) : "over 10^15") +
           " parameters, more than the " + WithThousands(kMaxParameters) +
           " a job may have; make it smaller";
  }
  if (!params_.empty() && Str("program") == kBuiltinProgram) {
    return std::string(kProgramParamPrefix) + params_.begin()->first + ": " +
           std::string(kBuiltinProgram) +
           " takes no params; they are for a program of your own (program: NAME)";
  }
  return "";
}

const Value& JobConfig::Get(std::string_view key) const {
  const bool param = IsProgramParamKey(key);
  const auto& values = param ? params_ : values_;
  auto it = values.find(param ? key.substr(kProgramParamPrefix.size()) : key);
  if (it == values.end()) {
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
  // nlohmann::json keeps its keys sorted. No structured binding: clang 14
  // (the fuzz build) cannot capture one in a lambda.
  nlohmann::json object = nlohmann::json::object();
  for (const auto& entry : values_) {
    const std::string& key = entry.first;
    std::visit([&](const auto& v) { object[key] = v; }, entry.second);
  }
  if (!params_.empty()) {
    nlohmann::json params = nlohmann::json::object();
    for (const auto& entry : params_) {
      const std::string& key = entry.first;
      std::visit([&](const auto& v) { params[key] = v; }, entry.second);
    }
    object["params"] = std::move(params);
  }
  return object.dump();
}

namespace {

// One JSON value of a config file as the key's value: integers stay
// integers, other numbers are doubles, strings strings.
std::string SetFromJson(const std::string& key, const nlohmann::json& item, JobConfig* config) {
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
  return config->Set(key, std::move(value));
}

}  // namespace

std::string JobConfig::FromJson(std::string_view json, JobConfig* out) {
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return "config: not valid JSON";
  if (!parsed.is_object()) return "config: expected a JSON object";
  JobConfig config;
  // Unknown keys first, then the keys in the registry's order, so that the
  // first problem reported is the one a sweep file with the same keys
  // reports (whatever order the JSON's keys come in).
  for (const auto& [key, item] : parsed.items()) {
    if (key == "params") continue;
    if (FindParam(key) == nullptr) return key + ": unknown key" + DidYouMean(ClosestParam(key));
  }
  for (const ParamSpec& spec : AllParams()) {
    if (!parsed.contains(spec.name)) continue;
    if (std::string error = SetFromJson(spec.name, parsed[spec.name], &config); !error.empty()) {
      return error;
    }
  }
  if (parsed.contains("params")) {
    const nlohmann::json& params = parsed["params"];
    if (!params.is_object()) return "params: expected an object of NAME: value";
    for (const auto& [name, item] : params.items()) {
      const std::string key = std::string(kProgramParamPrefix) + name;
      if (std::string error = SetFromJson(key, item, &config); !error.empty()) return error;
    }
  }
  *out = std::move(config);
  return "";
}

tasks::SeparationOptions JobConfig::SeparationTaskOptions() const {
  tasks::SeparationOptions options;
  tasks::ParseTaskFamily(Str("task"), &options.family);
  const int64_t length = Int("length");
  options.length = length != 0 ? static_cast<int>(length) : tasks::DefaultLength(options.family);
  options.vocab = static_cast<int>(Int("vocab"));
  options.depth = static_cast<int>(Int("depth"));
  options.labels = static_cast<int>(Int("labels"));
  tasks::ParseDyckNegatives(Str("negatives"), &options.negatives);
  tasks::ParseMismatches(Str("mismatches"), &options.mismatches);
  return options;
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
