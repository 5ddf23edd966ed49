// sample: prints IARC streams from their start, or the windows of a separation
// task, exactly as the trainer's samplers draw them (common/tasks/iarc.h,
// common/tasks/separations.h). Needs no coordinator.
#include <algorithm>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/commands/commands.h"
#include "common/config/job_config.h"
#include "common/tasks/iarc.h"
#include "common/tasks/separations.h"

namespace switchyard::client {
namespace {

constexpr char kIarc[] = "iarc";
constexpr int64_t kMaxTokens = 100'000'000;

// The generator names options like the sweep-file keys (switch_min); the CLI
// spells them as flags (--switch-min).
std::string FlagName(const std::string& option) {
  std::string flag = "--" + option;
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

// A generator's "key: message" as "--flag: message".
absl::Status OptionError(std::string error) {
  size_t colon = error.find(':');
  if (colon != std::string::npos) error = FlagName(error.substr(0, colon)) + error.substr(colon);
  return absl::InvalidArgumentError(error);
}

// A flag of an option that `task` does not read is refused rather than
// silently ignored. Which task reads which option is the job config's rule
// (config::ParamSpec::read_by), so sample and a sweep file agree. `--length`
// is left out: sample gives it a meaning for IARC too (the stream's length).
absl::Status CheckTaskFlags(const Args& args, const std::string& task) {
  for (const config::ParamSpec& spec : config::AllParams()) {
    const std::string flag = FlagName(spec.name).substr(2);
    if (spec.read_by.empty() || spec.name == "length" || !args.Has(flag) ||
        absl::c_linear_search(spec.read_by, task)) {
      continue;
    }
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": not an option of --task ", task,
                                                   " (only of ", absl::StrJoin(spec.read_by, ", "),
                                                   ")"));
  }
  return absl::OkStatus();
}

// Reads each given flag of `options` as a whole number in [min, max].
struct IntOption {
  const char* flag;
  int* target;
};
absl::Status ReadInts(const Args& args, std::initializer_list<IntOption> options, int64_t min,
                      int64_t max) {
  for (const IntOption& o : options) {
    if (!args.Has(o.flag)) continue;
    absl::StatusOr<int64_t> v =
        ParseIntFlag(absl::StrCat("--", o.flag), args.Get(o.flag), min, max);
    if (!v.ok()) return v.status();
    *o.target = static_cast<int>(*v);
  }
  return absl::OkStatus();
}

absl::Status SampleIarc(const Args& args, uint64_t seed, int64_t count, CommandEnv& env) {
  tasks::IarcOptions options;
  options.tasks = args.Get("tasks", "IARC");
  absl::StatusOr<int64_t> length =
      ParseIntFlag("--length", args.Get("length", "60"), 1, 10'000'000);
  if (!length.ok()) return length.status();
  if (count * *length > kMaxTokens) {
    return absl::InvalidArgumentError(absl::StrCat("--count: ", count, " streams of ", *length,
                                                   " tokens is more than ", kMaxTokens, " tokens"));
  }
  if (absl::Status s = ReadInts(args,
                                {{"d", &options.d},
                                 {"switch-min", &options.switch_min},
                                 {"switch-max", &options.switch_max}},
                                0, tasks::kMaxOptionValue);
      !s.ok()) {
    return s;
  }
  if (args.Has("c-mode") && !tasks::ParseCMode(args.Get("c-mode"), &options.c_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("--c-mode: unknown value '", args.Get("c-mode"),
                                                   "'; expected per_token or per_step"));
  }
  // "switch_min: 1 must be at least 2" -> "--switch-min: 1 must be at least 2"
  if (std::string error = tasks::ValidateOptions(options); !error.empty()) {
    return OptionError(error);
  }
  // Stream by stream: a large sample is written as it is made.
  tasks::Rng rng(seed);
  for (int64_t i = 0; i < count; ++i) {
    env.out() << tasks::FormatStream(options, rng.NextU64(), static_cast<int>(*length)) << "\n";
  }
  env.out().flush();
  return absl::OkStatus();
}

absl::Status SampleQuestions(const Args& args, tasks::TaskFamily family, uint64_t seed,
                             int64_t count, CommandEnv& env) {
  tasks::SeparationOptions options;
  options.family = family;
  options.length = tasks::DefaultLength(family);
  // Any int: ValidateOptions gives the range, in the sweep keys' words.
  if (absl::Status s = ReadInts(args,
                                {{"length", &options.length},
                                 {"vocab", &options.vocab},
                                 {"depth", &options.depth},
                                 {"labels", &options.labels}},
                                std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
      !s.ok()) {
    return s;
  }
  if (args.Has("negatives") &&
      !tasks::ParseDyckNegatives(args.Get("negatives"), &options.negatives)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--negatives: unknown value '", args.Get("negatives"), "'; expected mixed, flip or swap"));
  }
  if (args.Has("mismatches") &&
      !tasks::ParseMismatches(args.Get("mismatches"), &options.mismatches)) {
    return absl::InvalidArgumentError(absl::StrCat("--mismatches: unknown value '",
                                                   args.Get("mismatches"),
                                                   "'; expected mixed, one or uniform"));
  }
  if (std::string error = tasks::ValidateOptions(options); !error.empty()) {
    return OptionError(error);
  }
  const int window = tasks::WindowLength(options);
  if (count * window > kMaxTokens) {
    return absl::InvalidArgumentError(absl::StrCat("--count: ", count, " windows of ", window,
                                                   " tokens is more than ", kMaxTokens, " tokens"));
  }
  // A batch at a time: the windows do not depend on how they are batched.
  tasks::QuestionSampler sampler(options, seed);
  tasks::QuestionBatch batch;
  for (int64_t done = 0; done < count;) {
    const int size = static_cast<int>(std::min<int64_t>(count - done, 1024));
    sampler.Sample(size, &batch);
    for (int row = 0; row < size; ++row) {
      env.out() << tasks::FormatQuestion(options, batch, row) << "\n";
    }
    done += size;
  }
  env.out().flush();
  return absl::OkStatus();
}

absl::Status RunSample(const Args& args, CommandEnv& env) {
  const std::string task = args.Get("task", kIarc);
  tasks::TaskFamily family = tasks::TaskFamily::kIndexLookup;
  if (task != kIarc && !tasks::ParseTaskFamily(task, &family)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--task: unknown task '", task,
                     "'; expected iarc, index_lookup, dyck, nearest_neighbor or string_equality"));
  }
  if (absl::Status s = CheckTaskFlags(args, task); !s.ok()) return s;
  absl::StatusOr<uint64_t> seed = ParseUint64Flag("--seed", args.Get("seed", "0"));
  if (!seed.ok()) return seed.status();
  absl::StatusOr<int64_t> count = ParseIntFlag("--count", args.Get("count", "10"), 1, 1'000'000);
  if (!count.ok()) return count.status();
  if (task == kIarc) return SampleIarc(args, *seed, *count, env);
  return SampleQuestions(args, family, *seed, *count, env);
}

}  // namespace

Command SampleCommand() {
  return {
      {"sample",
       "",
       "print IARC streams or separation-task windows",
       "--task iarc (the default) prints --count streams, one per line, --length tokens\n"
       "each, separated by one space: numbers in decimal, control tokens as the letters\n"
       "I A R C. Stream i is the one the trainer's window sampler with this seed cuts its\n"
       "i-th window from.\n"
       "--task index_lookup, dyck, nearest_neighbor or string_equality prints --count\n"
       "windows, one per line: the input tokens separated by one space, then ' => ' and\n"
       "the answer, e.g. '3 17 5 @2 => 17'. Window i is the trainer's i-th window for\n"
       "this seed (docs/tasks.md).",
       {{"task", "T", "iarc (default), index_lookup, dyck, nearest_neighbor or string_equality"},
        {"seed", "S", "seed, 0 to 2^64-1 (default 0)"},
        {"count", "N", "how many streams or windows (default 10)"},
        {"length", "L",
         "iarc: tokens per stream (default 60); other tasks: the task's length (default 20, "
         "or 21 for string_equality)"},
        {"tasks", "T", "iarc: a subset of IARC in that order with one of I, A, R (default IARC)"},
        {"d", "D", "iarc: one-hot width; N = d - |tasks| numbers (default 20)"},
        {"switch-min", "K", "iarc: shortest distance between control tokens (default 3)"},
        {"switch-max", "K", "iarc: longest distance between control tokens (default 9)"},
        {"c-mode", "M", "iarc: per_token (default) or per_step"},
        {"vocab", "V",
         "index_lookup, nearest_neighbor (default 64), string_equality (default 2): "
         "symbols or points"},
        {"depth", "D", "dyck: the most nesting (default 2)"},
        {"negatives", "K", "dyck: mixed (default), flip or swap"},
        {"labels", "L", "nearest_neighbor: labels (default 4)"},
        {"mismatches", "M", "string_equality: mixed (default), one or uniform"}},
       0,
       0},
      RunSample};
}

}  // namespace switchyard::client
