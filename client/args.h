// Command-line parsing for `switchyard`: one command word, then flags and
// positional arguments in any order.
//
// Flags are `--name VALUE`, `--name=VALUE` or, for switches, `--name`. A flag
// that takes a value always takes the next word, so `--priority -5` works.
// `--` ends the flags. `-h` and `--help` ask for the command's help. A flag
// given twice keeps its last value. Every error is INVALID_ARGUMENT naming the
// flag, e.g. "--nmae: unknown flag; did you mean --name?".
//
// Thread safety: pure functions over values.
#ifndef SWITCHYARD_CLIENT_ARGS_H_
#define SWITCHYARD_CLIENT_ARGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace switchyard::client {

struct FlagSpec {
  std::string name;        // without the dashes, e.g. "dry-run"
  std::string value_name;  // shown in help, e.g. "N"; empty for a switch that takes no value
  std::string help;
};

struct CommandSpec {
  std::string name;         // the command word, e.g. "submit"
  std::string positionals;  // for the usage line, e.g. "FILE.yaml"
  std::string summary;      // one line, for `switchyard --help`
  std::string description;  // for `switchyard CMD --help`
  std::vector<FlagSpec> flags;
  int min_positionals = 0;
  int max_positionals = 0;
};

// The outcome of parsing one command's arguments.
class Args {
 public:
  bool help() const { return help_; }
  const std::vector<std::string>& positionals() const { return positionals_; }
  bool Has(std::string_view flag) const;
  // The flag's value, or `fallback` when it was not given (a switch: "").
  std::string Get(std::string_view flag, std::string fallback = "") const;

 private:
  friend absl::StatusOr<Args> ParseArgs(const CommandSpec&, const std::vector<FlagSpec>&,
                                        const std::vector<std::string>&);
  bool help_ = false;
  std::vector<std::string> positionals_;
  std::map<std::string, std::string, std::less<>> values_;
};

// Parses `args` (the words after the command word) against the command's
// flags and the global ones. With -h/--help anywhere, returns help() = true
// and checks nothing else. Otherwise checks the flags and the number of
// positional arguments.
absl::StatusOr<Args> ParseArgs(const CommandSpec& spec, const std::vector<FlagSpec>& global_flags,
                               const std::vector<std::string>& args);

// The text `switchyard CMD --help` prints.
std::string CommandHelp(const CommandSpec& spec, const std::vector<FlagSpec>& global_flags);

// Flag values. Errors are INVALID_ARGUMENT and name `flag` (given with its
// dashes, e.g. "--count").
absl::StatusOr<int64_t> ParseIntFlag(std::string_view flag, std::string_view text, int64_t min,
                                     int64_t max);
absl::StatusOr<uint64_t> ParseUint64Flag(std::string_view flag, std::string_view text);
absl::StatusOr<double> ParseDoubleFlag(std::string_view flag, std::string_view text, double min,
                                       double max);
// One of `choices`.
absl::StatusOr<std::string> ParseChoiceFlag(std::string_view flag, std::string_view text,
                                            const std::vector<std::string>& choices);
// A comma-separated list of distinct non-empty items, each one of `choices`
// (any item when `choices` is empty).
absl::StatusOr<std::vector<std::string>> ParseListFlag(std::string_view flag, std::string_view text,
                                                       const std::vector<std::string>& choices);
// A positive id such as a sweep or job id; `what` names it ("SWEEP").
absl::StatusOr<int64_t> ParseId(std::string_view what, std::string_view text);

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_ARGS_H_
