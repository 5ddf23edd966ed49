// The job configuration: every parameter one training job takes, in one
// registry shared by the sweep-file parser, the coordinator (grid expansion
// and validation), the CLI and the trainer, so all sides accept and refuse
// the same things.
//
// Dependency-free apart from header-only nlohmann/json, because the trainer
// (LibTorch + the standard library only) links it. Errors are returned as
// strings ("" = ok) that name the key and what it allows; callers wrap them in
// their own error type.
//
// Thread safety: the registry is immutable after first use; a JobConfig is a
// plain value.
#ifndef SWITCHYARD_COMMON_CONFIG_JOB_CONFIG_H_
#define SWITCHYARD_COMMON_CONFIG_JOB_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/tasks/iarc.h"

namespace switchyard::config {

enum class Kind { kInt, kFloat, kString };
const char* KindName(Kind kind);  // "integer", "number", "string"

using Value = std::variant<int64_t, double, std::string>;
std::string ValueToString(const Value& value);

// Which part of the system a parameter belongs to (for --help and docs).
enum class Group { kJob, kTask, kModel, kTraining };

struct ParamSpec {
  std::string name;
  Kind kind;
  Group group;
  Value default_value;
  std::string help;
  std::vector<std::string> choices;  // kString: allowed values; empty = free text
  double min = 0;                    // kInt / kFloat: inclusive range
  double max = 0;
};

// Every parameter, in a stable documented order.
const std::vector<ParamSpec>& AllParams();
// nullptr when unknown.
const ParamSpec* FindParam(std::string_view name);
// The known name closest to `name` (edit distance), for "did you mean" hints.
std::string ClosestParam(std::string_view name);
// The candidate closest to `name` by edit distance ("" if there are none).
std::string ClosestOf(std::string_view name, const std::vector<std::string>& candidates);

// Converts a value to the parameter's kind (an integer is accepted where a
// number is expected; a float with no fractional part where an integer is)
// and checks its range and choices. Returns "" or an error such as
// "lr: -1 is out of range [1e-07, 10]".
std::string CheckValue(const ParamSpec& spec, Value* value);

// Parses text (a command-line flag's argument) into the parameter's kind.
std::string ParseValue(const ParamSpec& spec, std::string_view text, Value* out);

// A complete job configuration: every registered key has a value.
class JobConfig {
 public:
  JobConfig();  // all defaults

  // Sets one key. Returns "" or an error naming the key.
  std::string Set(std::string_view key, Value value);
  std::string SetFromString(std::string_view key, std::string_view text);

  // Turns attention "auto" into the concrete kind: "none" for mlp and lstm,
  // "softmax" for transformer and cisformer. Idempotent.
  void ResolveDefaults();

  // Cross-field checks: attention only for transformer/cisformer ("none" for
  // mlp and lstm), valid task set and task options, heads dividing the width,
  // switch_min <= switch_max ... Returns "" or the first problem found.
  std::string Validate() const;

  int64_t Int(std::string_view key) const;      // aborts on a key of another kind: a bug
  double Float(std::string_view key) const;
  const std::string& Str(std::string_view key) const;
  const Value& Get(std::string_view key) const;

  // Canonical JSON: one object, keys sorted, every key present.
  std::string ToJson() const;
  // Reads a JSON object; missing keys keep their defaults, unknown keys and
  // wrong kinds are errors. Does not call Validate().
  static std::string FromJson(std::string_view json, JobConfig* out);

  // The generator options this config describes.
  tasks::IarcOptions TaskOptions() const;

  bool operator==(const JobConfig& other) const { return values_ == other.values_; }

 private:
  std::map<std::string, Value, std::less<>> values_;
};

// True for the models that take an attention kind.
bool ModelHasAttention(std::string_view model);

}  // namespace switchyard::config

#endif  // SWITCHYARD_COMMON_CONFIG_JOB_CONFIG_H_
