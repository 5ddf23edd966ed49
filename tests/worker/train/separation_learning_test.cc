// Learning checks for the separation tasks (issue 16): a small model with a
// fixed seed learns each task well above chance within a few seconds of CPU,
// through the trainer's own loop (RunTraining), so the last-token scoring,
// the samplers and the models' input and read-out sizes are checked
// together. The thresholds sit below the measured values (docs/tasks.md,
// "Training on these tasks") and well above chance.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/config/job_config.h"
#include "worker/train/trainer.h"

namespace switchyard::worker::train {
namespace {

struct Case {
  std::string name;
  std::map<std::string, std::string> job;
  double chance;
  double at_least;  // final eval accuracy
};

double FinalAccuracy(const std::map<std::string, std::string>& keys) {
  TrainerOptions options;
  for (const auto& [key, value] : keys) {
    EXPECT_EQ(options.job.SetFromString(key, value), "") << key;
  }
  std::ostringstream out, log;
  EXPECT_EQ(RunTraining(options, out, log), kExitDone) << log.str();
  double accuracy = -1;
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object() && json.contains("summary")) accuracy = json["final"]["accuracy"];
  }
  return accuracy;
}

TEST(SeparationLearningTest, SmallModelsLearnEachTask) {
  SetTorchThreads(2);
  const std::map<std::string, std::string> training = {
      {"seed", "1"},           {"epochs", "4"},        {"steps_per_epoch", "150"},
      {"batch_size", "64"},    {"eval_windows", "1000"}, {"checkpoint_every", "0"}};
  const std::vector<Case> cases = {
      // A 1-layer transformer of width 32 at length 20: the check.
      // Addressing position p needs absolute positions (ALiBi alone stays
      // near chance: docs/tasks.md).
      {"index_lookup",
       {{"task", "index_lookup"}, {"model", "transformer"}, {"layers", "1"}, {"width", "32"},
        {"heads", "4"}, {"ffn_width", "64"}, {"positions", "learned"}, {"lr", "0.003"}},
       1.0 / 64, 0.9},
      {"dyck",
       {{"task", "dyck"}, {"length", "12"}, {"model", "lstm"}, {"layers", "1"}, {"width", "64"},
        {"lr", "0.01"}},
       0.5, 0.9},
      {"nearest_neighbor",
       {{"task", "nearest_neighbor"}, {"length", "6"}, {"vocab", "8"}, {"labels", "2"},
        {"model", "lstm"}, {"layers", "1"}, {"width", "64"}, {"lr", "0.01"}},
       0.5, 0.85},
      {"string_equality",
       {{"task", "string_equality"}, {"length", "11"}, {"model", "cisformer"}, {"layers", "1"},
        {"width", "32"}, {"heads", "4"}, {"ffn_width", "64"}, {"lr", "0.003"}},
       0.5, 0.75},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::map<std::string, std::string> keys = training;
    keys.insert(c.job.begin(), c.job.end());
    const double accuracy = FinalAccuracy(keys);
    std::cout << c.name << ": accuracy " << accuracy << " (chance " << c.chance << ")\n";
    EXPECT_GE(accuracy, c.at_least);
  }
}

}  // namespace
}  // namespace switchyard::worker::train
