#include "client/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/config/job_config.h"

namespace switchyard::client {
namespace {

absl::Status FlagError(std::string_view flag, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(flag), ": ", message));
}

const FlagSpec* FindFlag(const std::vector<FlagSpec>& flags, std::string_view name) {
  for (const FlagSpec& flag : flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

std::string FlagLine(const FlagSpec& flag) {
  std::string left = absl::StrCat("  --", flag.name);
  if (!flag.value_name.empty()) absl::StrAppend(&left, " ", flag.value_name);
  if (left.size() < 28) {
    left.resize(28, ' ');
  } else {
    left += "\n" + std::string(28, ' ');
  }
  return absl::StrCat(left, flag.help, "\n");
}

}  // namespace

bool Args::Has(std::string_view flag) const { return values_.find(flag) != values_.end(); }

std::string Args::Get(std::string_view flag, std::string fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<Args> ParseArgs(const CommandSpec& spec, const std::vector<FlagSpec>& global_flags,
                               const std::vector<std::string>& args) {
  Args out;
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg == "-h" || arg == "--help") {
      out.help_ = true;
      return out;
    }
  }
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_ended || arg == "-" || arg.empty() || arg[0] != '-') {
      out.positionals_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    if (arg.size() < 3 || arg[1] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat(arg, ": unknown option; flags are written with two dashes, e.g. --help"));
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* flag = FindFlag(spec.flags, name);
    if (flag == nullptr) flag = FindFlag(global_flags, name);
    if (flag == nullptr) {
      std::vector<std::string> known;
      for (const FlagSpec& f : spec.flags) known.push_back(f.name);
      for (const FlagSpec& f : global_flags) known.push_back(f.name);
      const std::string closest = config::ClosestOf(name, known);
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, ": unknown flag for '", spec.name, "'",
          closest.empty() ? "" : absl::StrCat("; did you mean --", closest, "?"),
          " (see switchyard ", spec.name, " --help)"));
    }
    if (flag->value_name.empty()) {
      if (inline_value.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": takes no value"));
      }
      out.values_[name] = "";
      continue;
    }
    if (inline_value.has_value()) {
      out.values_[name] = *inline_value;
    } else if (i + 1 < args.size()) {
      out.values_[name] = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": expected a value (", flag->value_name, ")"));
    }
  }
  int count = static_cast<int>(out.positionals_.size());
  if (count < spec.min_positionals) {
    return absl::InvalidArgumentError(absl::StrCat(spec.name, ": missing ", spec.positionals,
                                                   " (usage: switchyard ", spec.name, " ",
                                                   spec.positionals, " [flags])"));
  }
  if (count > spec.max_positionals) {
    const std::string& extra = out.positionals_[spec.max_positionals];
    return absl::InvalidArgumentError(absl::StrCat(
        spec.name, ": unexpected argument '", extra, "'",
        spec.positionals.empty()
            ? std::string(" (it takes none)")
            : absl::StrCat(" (usage: switchyard ", spec.name, " ", spec.positionals, " [flags])")));
  }
  return out;
}

std::string CommandHelp(const CommandSpec& spec, const std::vector<FlagSpec>& global_flags) {
  std::string text = absl::StrCat("usage: switchyard ", spec.name);
  if (!spec.positionals.empty()) absl::StrAppend(&text, " ", spec.positionals);
  if (!spec.flags.empty()) absl::StrAppend(&text, " [flags]");
  absl::StrAppend(&text, "\n\n", spec.summary, "\n");
  if (!spec.description.empty()) absl::StrAppend(&text, "\n", spec.description, "\n");
  if (!spec.flags.empty()) {
    absl::StrAppend(&text, "\nflags:\n");
    for (const FlagSpec& flag : spec.flags) absl::StrAppend(&text, FlagLine(flag));
  }
  absl::StrAppend(&text, "\nglobal flags:\n");
  for (const FlagSpec& flag : global_flags) absl::StrAppend(&text, FlagLine(flag));
  absl::StrAppend(&text, "  --help                    this text\n");
  return text;
}

absl::StatusOr<int64_t> ParseIntFlag(std::string_view flag, std::string_view text, int64_t min,
                                     int64_t max) {
  std::string copy(text);
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(copy.c_str(), &end, 10);
  if (copy.empty() || *end != '\0' || copy.find_first_of(" \t\n") != std::string::npos) {
    return FlagError(flag, absl::StrCat("expected an integer, got '", copy, "'"));
  }
  if (errno == ERANGE || value < min || value > max) {
    return FlagError(flag, absl::StrCat(copy, " is out of range [", min, ", ", max, "]"));
  }
  return static_cast<int64_t>(value);
}

absl::StatusOr<uint64_t> ParseUint64Flag(std::string_view flag, std::string_view text) {
  std::string copy(text);
  if (copy.empty() || copy.find_first_not_of("0123456789") != std::string::npos) {
    return FlagError(flag, absl::StrCat("expected a non-negative integer, got '", copy, "'"));
  }
  errno = 0;
  unsigned long long value = std::strtoull(copy.c_str(), nullptr, 10);
  if (errno == ERANGE) {
    return FlagError(flag, absl::StrCat(copy, " is out of range [0, 18446744073709551615]"));
  }
  return static_cast<uint64_t>(value);
}

absl::StatusOr<double> ParseDoubleFlag(std::string_view flag, std::string_view text, double min,
                                       double max) {
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || *end != '\0' || !std::isfinite(value)) {
    return FlagError(flag, absl::StrCat("expected a number, got '", copy, "'"));
  }
  if (value < min || value > max) {
    return FlagError(flag, absl::StrCat(copy, " is out of range [", min, ", ", max, "]"));
  }
  return value;
}

absl::StatusOr<std::string> ParseChoiceFlag(std::string_view flag, std::string_view text,
                                            const std::vector<std::string>& choices) {
  for (const std::string& choice : choices) {
    if (choice == text) return choice;
  }
  return FlagError(flag, absl::StrCat("unknown value '", std::string(text), "'; expected one of ",
                                      absl::StrJoin(choices, ", ")));
}

absl::StatusOr<std::vector<std::string>> ParseListFlag(std::string_view flag, std::string_view text,
                                                       const std::vector<std::string>& choices) {
  std::vector<std::string> items;
  std::set<std::string> seen;
  for (absl::string_view piece : absl::StrSplit(std::string(text), ',')) {
    std::string item(piece);
    if (item.empty()) {
      return FlagError(
          flag, absl::StrCat("expected a comma-separated list, got '", std::string(text), "'"));
    }
    if (!choices.empty()) {
      absl::StatusOr<std::string> checked = ParseChoiceFlag(flag, item, choices);
      if (!checked.ok()) return checked.status();
    }
    if (!seen.insert(item).second)
      return FlagError(flag, absl::StrCat("'", item, "' is listed twice"));
    items.push_back(item);
  }
  return items;
}

absl::StatusOr<int64_t> ParseId(std::string_view what, std::string_view text) {
  std::string copy(text);
  if (copy.empty() || copy.size() > 18 ||
      copy.find_first_not_of("0123456789") != std::string::npos ||
      std::strtoll(copy.c_str(), nullptr, 10) <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": expected a positive id such as 3, got '", copy, "'"));
  }
  return static_cast<int64_t>(std::strtoll(copy.c_str(), nullptr, 10));
}

}  // namespace switchyard::client
