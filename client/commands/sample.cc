// sample: prints IARC streams from their start, exactly as the trainer's
// window sampler draws them (common/tasks/iarc.h). Needs no coordinator.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/commands/commands.h"
#include "common/tasks/iarc.h"

namespace switchyard::client {
namespace {

// The generator names options like the sweep-file keys (switch_min); the CLI
// spells them as flags (--switch-min).
std::string FlagName(const std::string& option) {
  std::string flag = "--" + option;
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

absl::Status RunSample(const Args& args, CommandEnv& env) {
  tasks::IarcOptions options;
  options.tasks = args.Get("tasks", "IARC");
  absl::StatusOr<uint64_t> seed = ParseUint64Flag("--seed", args.Get("seed", "0"));
  if (!seed.ok()) return seed.status();
  absl::StatusOr<int64_t> count = ParseIntFlag("--count", args.Get("count", "10"), 1, 1'000'000);
  if (!count.ok()) return count.status();
  absl::StatusOr<int64_t> length =
      ParseIntFlag("--length", args.Get("length", "60"), 1, 10'000'000);
  if (!length.ok()) return length.status();
  if (*count * *length > 100'000'000) {
    return absl::InvalidArgumentError(absl::StrCat("--count: ", *count, " streams of ", *length,
                                                   " tokens is more than 100000000 tokens"));
  }
  struct IntOption {
    const char* flag;
    int* target;
  };
  for (const IntOption& o :
       {IntOption{"d", &options.d}, IntOption{"switch-min", &options.switch_min},
        IntOption{"switch-max", &options.switch_max}}) {
    if (!args.Has(o.flag)) continue;
    absl::StatusOr<int64_t> v =
        ParseIntFlag(absl::StrCat("--", o.flag), args.Get(o.flag), 0, tasks::kMaxOptionValue);
    if (!v.ok()) return v.status();
    *o.target = static_cast<int>(*v);
  }
  if (args.Has("c-mode") && !tasks::ParseCMode(args.Get("c-mode"), &options.c_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("--c-mode: unknown value '", args.Get("c-mode"),
                                                   "'; expected per_token or per_step"));
  }
  if (std::string error = tasks::ValidateOptions(options); !error.empty()) {
    // "switch_min: 1 must be at least 2" -> "--switch-min: 1 must be at least 2"
    size_t colon = error.find(':');
    if (colon != std::string::npos) error = FlagName(error.substr(0, colon)) + error.substr(colon);
    return absl::InvalidArgumentError(error);
  }
  // Stream by stream: a large sample is written as it is made.
  tasks::Rng rng(*seed);
  for (int64_t i = 0; i < *count; ++i) {
    env.out() << tasks::FormatStream(options, rng.NextU64(), static_cast<int>(*length)) << "\n";
  }
  env.out().flush();
  return absl::OkStatus();
}

}  // namespace

Command SampleCommand() {
  return {{"sample",
           "",
           "print IARC streams from their start",
           "Prints --count streams, one per line, --length tokens each, separated by one space:\n"
           "numbers in decimal, control tokens as the letters I A R C. Stream i is the one the\n"
           "trainer's window sampler with this seed cuts its i-th window from.",
           {{"tasks", "T",
             "task set: a subset of IARC in that order with one of I, A, R (default IARC)"},
            {"seed", "S", "seed, 0 to 2^64-1 (default 0)"},
            {"count", "N", "how many streams (default 10)"},
            {"length", "L", "tokens per stream (default 60)"},
            {"d", "D", "one-hot width; N = d - |tasks| numbers (default 20)"},
            {"switch-min", "K", "shortest distance between control tokens (default 3)"},
            {"switch-max", "K", "longest distance between control tokens (default 9)"},
            {"c-mode", "M", "per_token (default) or per_step"}},
           0,
           0},
          RunSample};
}

}  // namespace switchyard::client
