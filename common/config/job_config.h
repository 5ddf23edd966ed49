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

#include "common/config/presets.h"
#include "common/tasks/iarc.h"
#include "common/tasks/separations.h"

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
  // The tasks (values of the `task` key) that read this key; empty = every
  // job. A job whose task does not read a key must leave it at its default.
  std::vector<std::string> read_by;
  // kString: the value names a program (CheckProgramName), never a path.
  bool names_a_program = false;
};

// Every parameter, in a stable documented order.
const std::vector<ParamSpec>& AllParams();
// nullptr when unknown.
const ParamSpec* FindParam(std::string_view name);

// "Did you mean" hints. A hint is given only when it is likely right: a
// known alias (the names other tools use: learning_rate -> lr, d_model ->
// width, num_heads -> heads ...), or a candidate within a small edit distance
// (letters swapped, dropped or doubled; case ignored). Otherwise "": no hint
// is better than a far-off one.
// The parameter `name` was probably meant to be, or "".
std::string ClosestParam(std::string_view name);
// The candidate `name` was probably meant to be, or "" (no aliases).
std::string ClosestOf(std::string_view name, const std::vector<std::string>& candidates);
// "; did you mean 'X'?" for a non-empty suggestion, "" for none: the tail of
// an "unknown ..." message.
std::string DidYouMean(std::string_view suggestion);

// Converts a value to the parameter's kind (an integer is accepted where a
// number is expected; a float with no fractional part where an integer is)
// and checks its range and choices. Returns "" or an error such as
// "lr: -1 is out of range [1e-07, 10]".
std::string CheckValue(const ParamSpec& spec, Value* value);

// Parses text (a command-line flag's argument) into the parameter's kind.
std::string ParseValue(const ParamSpec& spec, std::string_view text, Value* out);

// ---- Programs of the user's own (docs/trainer-protocol.md)
//
// The `program` key names the training program a job runs; the worker maps
// the name to an executable it was started with (--program NAME=PATH), so a
// sweep never says which file runs. A program's own parameters are the keys
// "params.NAME": free-form, but typed (integer, number, string) and limited
// in size, and they expand into the grid like any key.

// The built-in trainer, the default program.
inline constexpr std::string_view kBuiltinProgram = "switchyard-train";
inline constexpr std::string_view kProgramParamPrefix = "params.";
inline constexpr size_t kMaxProgramParams = 32;     // params per job
inline constexpr size_t kMaxProgramParamName = 64;  // characters of NAME
inline constexpr size_t kMaxProgramParamText = 256; // bytes of a string value

// Checks a program name: 1 to 64 letters, digits, '-', '_' or '.', starting
// with a letter or a digit. `what` starts the message ("program",
// "--program"). A path is refused with a message that says where the path
// belongs (the worker's --program).
std::string CheckProgramName(std::string_view what, std::string_view name);

// True for "params.NAME" keys.
bool IsProgramParamKey(std::string_view key);

// Checks a "params.NAME" key and its value: NAME is an identifier
// ([A-Za-z_][A-Za-z0-9_]*, at most kMaxProgramParamName), a number is
// finite, a string at most kMaxProgramParamText bytes. A double with no
// fractional part stays a double (1.0 is not 1: the program gets what the
// file says). Returns "" or "params.NAME: ...".
std::string CheckProgramParam(std::string_view key, const Value& value);

// Jobs whose model has more parameters than this are refused at submit: 100M
// float parameters and Adam's two moments are 1.2 GB before any activation,
// and the largest model of the study has 31M (docs/models.md).
inline constexpr int64_t kMaxParameters = 100'000'000;

// The model a job describes, after the preset and the `auto` defaults: what
// the trainer builds, size for size.
struct ModelShape {
  std::string model;      // "mlp", "lstm", "transformer", "cisformer"
  std::string attention;  // "none" for mlp and lstm, else softmax/expressive
  std::string preset;
  ModelSizes sizes;       // sizes the family does not use are 0
  ModelSizes given;       // the sizes the job set itself (0 = from the preset)
  int vocab = 0;          // d: token ids 0 .. d-1
  int numbers = 0;        // N: the model predicts one of N numbers
  int context_length = 0; // Nc: the longest window the model takes
  // The transformer adds a learned absolute position embedding ([Nc,
  // width]) to its input; ALiBi is there either way.
  bool learned_positions = false;
};

// Scalar parameters of the model `shape` describes: the formulas of
// docs/models.md, equal to what the trainer's model counts
// (tests/worker/models/parameter_count_test.cc). A double, because sizes at
// the registry's limits overflow int64; exact below 2^53.
double ParameterCount(const ModelShape& shape);

// A complete job configuration: every registered key has a value.
class JobConfig {
 public:
  JobConfig();  // all defaults

  // Sets one key: a registered key or a "params.NAME" key
  // (CheckProgramParam; at most kMaxProgramParams of them). Returns "" or an
  // error naming the key.
  std::string Set(std::string_view key, Value value);
  std::string SetFromString(std::string_view key, std::string_view text);

  // Turns attention "auto" into the concrete kind: "none" for mlp and lstm,
  // "softmax" for transformer and cisformer. Idempotent.
  void ResolveDefaults();

  // Checks the effective job, after the preset and the `auto` defaults:
  // attention only for transformer/cisformer ("none" for mlp and lstm),
  // valid task set and task options, heads dividing the width (whether
  // either came from the preset), at most kMaxParameters parameters, and
  // params only for a program of the user's own. Returns
  // "" or the first problem found, starting with the key to change, e.g.
  // "width: 30 is not divisible by heads (4, from preset small)". This is
  // the one check of a job: the CLI, the coordinator and the trainer call it,
  // and a config it accepts builds a model without further checks.
  std::string Validate() const;

  // The model this config describes (attention "auto" resolved, sizes of 0
  // taken from the preset). Meaningful for a config that Validate() accepts.
  ModelShape Model() const;

  int64_t Int(std::string_view key) const;      // aborts on a key of another kind: a bug
  double Float(std::string_view key) const;
  const std::string& Str(std::string_view key) const;
  // A registered key, or a "params.NAME" key the config has (aborts, a bug,
  // on any other).
  const Value& Get(std::string_view key) const;
  // The "params.NAME" values, by NAME (without the prefix).
  const std::map<std::string, Value, std::less<>>& ProgramParams() const { return params_; }

  // Canonical JSON: one object, keys sorted, every registered key present,
  // and the program's params as one object under "params" when there are
  // any: {"params":{"hidden":64},...}.
  std::string ToJson() const;
  // Reads a JSON object; missing keys keep their defaults, unknown keys and
  // wrong kinds are errors; "params" must be an object of numbers and
  // strings. Does not call Validate().
  static std::string FromJson(std::string_view json, JobConfig* out);

  // The `task` key: "iarc" (the default) or a separation task
  // (common/tasks/separations.h).
  bool IsIarc() const { return Str("task") == "iarc"; }
  // The IARC generator options this config describes (meaningful when
  // IsIarc()).
  tasks::IarcOptions TaskOptions() const;
  // The separation task's options (meaningful when !IsIarc()): `length`,
  // `vocab` and the rest; a `length` of 0 takes the task's default.
  tasks::SeparationOptions SeparationTaskOptions() const;

  bool operator==(const JobConfig& other) const {
    return values_ == other.values_ && params_ == other.params_;
  }

 private:
  std::map<std::string, Value, std::less<>> values_;
  std::map<std::string, Value, std::less<>> params_;
};

// True for the models that take an attention kind.
bool ModelHasAttention(std::string_view model);

}  // namespace switchyard::config

#endif  // SWITCHYARD_COMMON_CONFIG_JOB_CONFIG_H_
