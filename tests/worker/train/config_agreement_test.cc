// Property: `switchyard submit --dry-run` accepts a configuration exactly when
// `switchyard-train --epochs 0` does, and when both refuse they say the same
// thing. 2,000 configurations are drawn from the registry's ranges and
// choices, edge values (each range's ends, one past them, 0 = "take the
// preset") included, with a fixed seed.
//
// Each side runs the code its binary runs, in this process (a process per
// configuration would take 0.4 s of LibTorch start-up each):
//   dry run: common::ParseSweepText on the sweep file's text, the function
//            `submit --dry-run` calls (client/commands/sweeps.cc);
//   trainer: config::JobConfig::FromJson on the job's JSON (what --config
//            reads), then RunTraining with epochs 0, which builds the model.
// tests/e2e/cli/config_agreement_test.sh runs a sample of the same kind of
// configurations through the two real binaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config/job_config.h"
#include "common/sweep/sweep_file.h"
#include "worker/train/trainer.h"

namespace switchyard::worker::train {
namespace {

// One drawn value per key that is set; the rest keep their defaults.
using Draw = std::vector<std::pair<std::string, config::Value>>;

// Values of the parameter's kind: the range's ends and one past them, the
// default, 0, and a few small values (models stay small enough to build
// quickly where they are legal).
config::Value DrawValue(const config::ParamSpec& spec, std::mt19937_64& rng) {
  auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  if (spec.kind == config::Kind::kString) {
    if (spec.name == "tasks") {
      static const std::vector<std::string> kSets = {"IARC", "IA", "IR", "AR", "IC",
                                                     "C",    "A",  "IAR", "RA", "IX", "IARCC"};
      return kSets[pick(kSets.size())];
    }
    if (spec.choices.empty()) return std::string("text");
    // Mostly the choices; now and then one that is not.
    if (pick(10) == 0) return std::string("no_such_") + spec.name;
    return spec.choices[pick(spec.choices.size())];
  }
  const double lo = spec.min, hi = spec.max;
  if (spec.kind == config::Kind::kFloat) {
    const std::vector<double> values = {lo, hi, lo / 2, hi * 2, std::get<double>(spec.default_value),
                                        std::sqrt(lo * hi), 1e-3, 0.5};
    return values[pick(values.size())];
  }
  const int64_t def = std::get<int64_t>(spec.default_value);
  const std::vector<int64_t> values = {static_cast<int64_t>(lo), static_cast<int64_t>(hi),
                                       static_cast<int64_t>(lo) - 1, static_cast<int64_t>(hi) + 1,
                                       def, 0, 1, 2, 3, 4, 5, 8, 12, 16, 30, 32};
  return values[pick(values.size())];
}

// Keys that decide legality; training-loop keys only need their ranges.
std::vector<Draw> DrawConfigs(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Draw> draws;
  for (int i = 0; i < count; ++i) {
    Draw draw;
    for (const config::ParamSpec& spec : config::AllParams()) {
      if (spec.name == "epochs") continue;  // both sides run epochs 0
      // Which program runs a job is the worker's to map, not a rule of the
      // job: switchyard-train refuses another program's job on purpose.
      if (spec.name == "program") continue;
      // model, attention, preset and sizes are set often; the rest now and then.
      const bool central = spec.group == config::Group::kJob || spec.group == config::Group::kModel ||
                           spec.name == "task";
      if (rng() % (central ? 2 : 10) != 0) continue;
      draw.emplace_back(spec.name, DrawValue(spec, rng));
    }
    draws.push_back(std::move(draw));
  }
  return draws;
}

// The sweep file a user would write for this one cell.
std::string SweepText(const Draw& draw) {
  std::string text = "name: agreement\nepochs: 0\n";
  for (const auto& [key, value] : draw) {
    const bool string = std::holds_alternative<std::string>(value);
    text += key + ": " + (string ? "\"" : "") + config::ValueToString(value) + (string ? "\"" : "") +
            "\n";
  }
  return text;
}

// The job the worker would hand the trainer for this cell: the drawn keys,
// with the one rewrite the grid makes (grid.h): a model that takes no
// attention runs with attention "none", whatever the sweep's attention list.
std::string JobJson(const Draw& draw) {
  nlohmann::json json = nlohmann::json::object();
  json["epochs"] = 0;
  for (const auto& [key, value] : draw) {
    std::visit([&json, &key = key](const auto& v) { json[key] = v; }, value);
  }
  const std::string model =
      json.contains("model") && json["model"].is_string() ? json["model"].get<std::string>()
                                                          : config::JobConfig().Str("model");
  // (The registry refuses an unknown kind before the grid gets to rewrite it.)
  const std::vector<std::string>& kinds = config::FindParam("attention")->choices;
  if (!config::ModelHasAttention(model) && json.contains("attention") &&
      std::find(kinds.begin(), kinds.end(), json["attention"].get<std::string>()) != kinds.end()) {
    json["attention"] = "none";
  }
  return json.dump();
}

// "" when the dry run accepts; else its message without "file:line:col: ".
std::string DryRunVerdict(const Draw& draw) {
  absl::StatusOr<common::SweepDefinition> sweep = common::ParseSweepText(SweepText(draw), "cell.yaml");
  if (sweep.ok()) return "";
  std::string message(sweep.status().message());
  // "cell.yaml:L:C: message" (or "cell.yaml: message" without a position).
  size_t start = message.find(": ");
  return start == std::string::npos ? message : message.substr(start + 2);
}

// "" when the trainer accepts; else its message without its prefixes.
std::string TrainerVerdict(const Draw& draw) {
  TrainerOptions options;
  if (std::string error = config::JobConfig::FromJson(JobJson(draw), &options.job); !error.empty()) {
    return error;
  }
  std::ostringstream out, log;
  const int code = RunTraining(options, out, log);
  if (code == kExitDone) return "";
  std::string message = log.str();
  const std::string prefix = "switchyard-train: bad config: ";
  if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
  if (!message.empty() && message.back() == '\n') message.pop_back();
  // A refused config is the job's fault: exit 2, nothing trained.
  EXPECT_EQ(code, kExitBadConfig) << message;
  return message;
}

TEST(ConfigAgreementTest, DryRunAcceptsExactlyWhatTheTrainerAccepts) {
  SetTorchThreads(1);
  const std::vector<Draw> draws = DrawConfigs(2000, /*seed=*/20261202);
  int accepted = 0, refused = 0, accepted_separation = 0;
  for (const Draw& draw : draws) {
    const std::string dry_run = DryRunVerdict(draw);
    const std::string trainer = TrainerVerdict(draw);
    ASSERT_EQ(dry_run, trainer) << SweepText(draw);
    (dry_run.empty() ? accepted : refused) += 1;
    for (const auto& [key, value] : draw) {
      if (dry_run.empty() && key == "task" && std::get<std::string>(value) != "iarc") {
        ++accepted_separation;
      }
    }
  }
  EXPECT_GE(accepted_separation, 30);  // the separation tasks are drawn too
  // The draw covers both outcomes in earnest, or the property says little.
  EXPECT_GE(accepted, 250);
  EXPECT_GE(refused, 300);
  std::cout << accepted << " accepted, " << refused << " refused by both\n";
}

}  // namespace
}  // namespace switchyard::worker::train
