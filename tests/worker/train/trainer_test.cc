#include "worker/train/trainer.h"

#include <fstream>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "worker/train/checkpoint.h"

namespace switchyard::worker::train {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct Result {
  int code = -1;
  std::vector<Json> lines;  // every stdout line, parsed
  std::string log;

  std::vector<Json> Epochs() const {
    std::vector<Json> out;
    for (const Json& line : lines) {
      if (line.contains("epoch") && !line.contains("summary"))
        out.push_back(line);
    }
    return out;
  }
  const Json* Summary() const {
    for (const Json& line : lines) {
      if (line.contains("summary")) return &line;
    }
    return nullptr;
  }
};

Result Train(const TrainerOptions& options) {
  std::ostringstream out;
  std::ostringstream log;
  Result result;
  result.code = RunTraining(options, out, log);
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) {
    result.lines.push_back(Json::parse(line));
  }
  result.log = log.str();
  return result;
}

config::JobConfig Job(std::map<std::string, std::string> overrides) {
  config::JobConfig job;
  // A small, fast job unless a test says otherwise.
  std::map<std::string, std::string> values = {
      {"model", "transformer"}, {"preset", "small"},       {"tasks", "IARC"},
      {"epochs", "2"},          {"steps_per_epoch", "6"},  {"batch_size", "32"},
      {"eval_windows", "300"},  {"checkpoint_every", "4"}, {"seed", "5"}};
  for (auto& [key, value] : overrides) values[key] = value;
  for (auto& [key, value] : values) {
    EXPECT_EQ(job.SetFromString(key, value), "") << key;
  }
  return job;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("switchyard_trainer_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter_++));
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

class TrainerTest : public ::testing::Test {
 protected:
  // One thread: ctest runs test binaries side by side on few cores, where
  // OpenMP threads waiting on each other cost more than they bring.
  static void SetUpTestSuite() { SetTorchThreads(1); }
};

// Every metric of an epoch line but the timing.
Json Metrics(Json line) {
  line.erase("samples_per_sec");
  return line;
}

// Equal to the last bit, not within a tolerance: both runs are one code path
// on one machine with one thread count, so every product goes through the
// same kernel in the same order, whichever kernel OpenBLAS or oneDNN picked
// (docs/trainer.md, "Rounding"). A tolerance would hide a resume that
// restores the state only approximately.
void ExpectSameRun(const std::vector<Json>& a, const std::vector<Json>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(Metrics(a[i]).dump(), Metrics(b[i]).dump()) << "epoch line " << i;
  }
}

TEST_F(TrainerTest, ResumeAfterStopEqualsUninterruptedRun) {
  for (const char* model : {"transformer", "lstm"}) {
    SCOPED_TRACE(model);
    TempDir straight_dir;
    TrainerOptions straight;
    straight.job = Job({{"model", model}});
    straight.checkpoint_dir = straight_dir.str();
    Result reference = Train(straight);
    ASSERT_EQ(reference.code, kExitDone) << reference.log;
    ASSERT_EQ(reference.Epochs().size(), 2u);

    // Stop mid-epoch 2 (step 9 of 12; the last periodic checkpoint is at 8),
    // then resume.
    TempDir dir;
    std::atomic<bool> stop{false};
    TrainerOptions first = straight;
    first.checkpoint_dir = dir.str();
    first.stop = &stop;
    first.after_step = [&](int64_t step) {
      if (step == 9) stop = true;
    };
    Result stopped = Train(first);
    ASSERT_EQ(stopped.code, kExitStopped) << stopped.log;
    ASSERT_EQ(stopped.Epochs().size(), 1u);
    EXPECT_EQ(stopped.Summary(), nullptr);
    EXPECT_EQ(stopped.lines.back()["checkpoint"], CheckpointPath(dir.str(), 9));
    EXPECT_EQ(stopped.lines.back()["step"], 9);
    EXPECT_TRUE(fs::exists(CheckpointPath(dir.str(), 9)));

    TrainerOptions second = straight;
    second.checkpoint_dir = dir.str();
    second.resume = true;
    Result resumed = Train(second);
    ASSERT_EQ(resumed.code, kExitDone) << resumed.log;
    ASSERT_EQ(resumed.Epochs().size(), 1u);
    EXPECT_EQ(resumed.Epochs()[0]["epoch"], 2);
    EXPECT_EQ(resumed.Epochs()[0]["step"], 12);

    std::vector<Json> joined = stopped.Epochs();
    joined.push_back(resumed.Epochs()[0]);
    ExpectSameRun(reference.Epochs(), joined);
    ASSERT_NE(resumed.Summary(), nullptr);
    EXPECT_EQ((*resumed.Summary())["final"].dump(),
              (*reference.Summary())["final"].dump());
    EXPECT_EQ((*resumed.Summary())["step"], 12);

    // Newest two kept.
    auto left = ListCheckpoints(dir.str());
    ASSERT_EQ(left.size(), 2u);
    EXPECT_EQ(left[0].first, 9);
    EXPECT_EQ(left[1].first, 12);
  }
}

TEST_F(TrainerTest, StopInTheFirstEpochAndResumeWithAttachedLayout) {
  TrainerOptions straight;
  straight.job = Job({{"model", "cisformer"},
                      {"attention", "expressive"},
                      {"layout", "attached"},
                      {"checkpoint_every", "0"}});
  Result reference = Train(straight);
  ASSERT_EQ(reference.code, kExitDone) << reference.log;

  TempDir dir;
  std::atomic<bool> stop{false};
  TrainerOptions first = straight;
  first.checkpoint_dir = dir.str();
  first.stop = &stop;
  first.after_step = [&](int64_t step) {
    if (step == 2) stop = true;
  };
  ASSERT_EQ(Train(first).code, kExitStopped);
  TrainerOptions second = first;
  second.stop = nullptr;
  second.after_step = nullptr;
  second.resume = true;
  Result resumed = Train(second);
  ASSERT_EQ(resumed.code, kExitDone) << resumed.log;
  ExpectSameRun(reference.Epochs(), resumed.Epochs());
}

// ASHA's rungs: an attempt trains to an epoch budget (the worker writes it
// as "epochs"), checkpoints at the epoch's end and is done; the promoted job
// resumes with more epochs and continues exactly where the full run would be.
TEST_F(TrainerTest, ARungThenItsPromotionEqualsTheFullRun) {
  TrainerOptions straight;
  straight.job = Job({{"model", "lstm"}});
  Result reference = Train(straight);
  ASSERT_EQ(reference.code, kExitDone) << reference.log;

  TempDir dir;
  TrainerOptions rung = straight;
  rung.checkpoint_dir = dir.str();
  ASSERT_EQ(rung.job.SetFromString("epochs", "1"), "");
  Result first = Train(rung);
  ASSERT_EQ(first.code, kExitDone) << first.log;
  ASSERT_EQ(first.Epochs().size(), 1u);

  TrainerOptions promoted = straight;
  promoted.checkpoint_dir = dir.str();
  promoted.resume = true;
  Result second = Train(promoted);
  ASSERT_EQ(second.code, kExitDone) << second.log;
  std::vector<Json> joined = first.Epochs();
  joined.push_back(second.Epochs().at(0));
  ExpectSameRun(reference.Epochs(), joined);
}

// The scheduler's stop order: the stop file ends the run after the epoch
// that is under way, with its line and checkpoint, exit 4; at the last
// epoch the run just finishes.
TEST_F(TrainerTest, TheStopFileStopsTheRunAtTheNextEpochBoundary) {
  TempDir dir;
  TempDir stop_dir;
  fs::create_directories(stop_dir.str());
  const std::string stop_file = stop_dir.str() + "/stop-at-epoch-end";
  TrainerOptions options;
  options.job = Job({{"model", "mlp"}, {"epochs", "3"}});
  options.checkpoint_dir = dir.str();
  options.epoch_stop_file = stop_file;
  options.after_step = [&](int64_t step) {
    if (step == 2) std::ofstream(stop_file).put('\n');  // mid-epoch 1 of 6 steps
  };
  Result stopped = Train(options);
  ASSERT_EQ(stopped.code, kExitStopped) << stopped.log;
  ASSERT_EQ(stopped.Epochs().size(), 1u);
  EXPECT_EQ(stopped.Summary(), nullptr);
  EXPECT_EQ(stopped.lines.back()["checkpoint"], CheckpointPath(dir.str(), 6));

  TempDir last_dir;
  TrainerOptions last = options;
  last.checkpoint_dir = last_dir.str();
  ASSERT_EQ(last.job.SetFromString("epochs", "1"), "");
  Result finished = Train(last);
  EXPECT_EQ(finished.code, kExitDone) << finished.log;
  EXPECT_NE(finished.Summary(), nullptr);
}

TEST_F(TrainerTest, SmallModelLearnsTheIncrementTask) {
  TrainerOptions options;
  // 80 steps of 100 windows; reaches ~99% (the ceiling is below 100%:
  // a window's first targets can follow a control token it does not show).
  options.job = Job({{"model", "mlp"},
                     {"tasks", "I"},
                     {"epochs", "2"},
                     {"steps_per_epoch", "40"},
                     {"batch_size", "100"},
                     {"lr", "0.005"},
                     {"eval_windows", "1000"}});
  Result result = Train(options);
  ASSERT_EQ(result.code, kExitDone) << result.log;
  ASSERT_NE(result.Summary(), nullptr);
  const Json& final = (*result.Summary())["final"];
  EXPECT_GT(final["accuracy"].get<double>(), 0.95) << final.dump();
  EXPECT_TRUE(final["accuracy_A"].is_null());
  EXPECT_GT(result.Epochs().front()["loss"].get<double>(),
            result.Epochs().back()["loss"].get<double>());
}

// Few, broad test cases on purpose: ctest runs each case in its own process,
// and loading LibTorch costs about a second per process.
TEST_F(TrainerTest, NoOpJobFailuresAndBadConfigs) {
  // epochs = 0: only the summary, with the parameter count.
  TrainerOptions noop_job;
  noop_job.job = Job({{"epochs", "0"}, {"preset", "paper"}});
  Result noop = Train(noop_job);
  ASSERT_EQ(noop.code, kExitDone) << noop.log;
  ASSERT_EQ(noop.lines.size(), 1u);
  const Json& summary = noop.lines[0];
  EXPECT_EQ(summary["summary"], true);
  EXPECT_EQ(summary["parameters"], 1301356);
  EXPECT_EQ(summary["epochs"], 0);
  EXPECT_EQ(summary["step"], 0);
  EXPECT_TRUE(summary["final"].is_null());
  EXPECT_TRUE(summary["wall_seconds"].is_number());

  // A NaN loss fails the job with exit code 3 and an error line.
  TempDir dir;
  TrainerOptions nan_job;
  nan_job.job = Job({{"debug_nan_at_step", "3"}});
  nan_job.checkpoint_dir = dir.str();
  Result failed = Train(nan_job);
  EXPECT_EQ(failed.code, kExitFailed);
  ASSERT_FALSE(failed.lines.empty());
  const Json& last = failed.lines.back();
  EXPECT_EQ(last["exit_code"], 3);
  EXPECT_EQ(last["step"], 3);
  EXPECT_NE(last["error"].get<std::string>().find("nan"), std::string::npos)
      << last.dump();
  EXPECT_TRUE(failed.Epochs().empty());

  // Bad configs exit 2 and name the key.
  struct Case {
    std::map<std::string, std::string> job;
    std::string key;
  };
  for (const Case& c : std::vector<Case>{
           {{{"model", "lstm"}, {"attention", "softmax"}}, "attention:"},
           {{{"model", "transformer"}, {"heads", "3"}},
            "heads: 3 does not divide width (32, from preset small)"},
           {{{"model", "cisformer"}, {"width", "30"}, {"heads", "4"}},
            "heads:"},
           {{{"tasks", "C"}}, "tasks"}}) {
    TrainerOptions options;
    options.job = Job(c.job);
    Result result = Train(options);
    EXPECT_EQ(result.code, kExitBadConfig) << c.key;
    EXPECT_NE(result.log.find(c.key), std::string::npos) << result.log;
    EXPECT_TRUE(result.lines.empty());
  }

  // So is a device that does not exist.
  TrainerOptions device_job;
  device_job.job = Job({});
  device_job.device = "tpu";
  Result result = Train(device_job);
  EXPECT_EQ(result.code, kExitBadConfig);
  EXPECT_NE(result.log.find("device: unknown device 'tpu'"), std::string::npos);
  // A device the machine cannot give is the machine's fault, not the job's.
  if (!torch::cuda::is_available()) {
    device_job.device = "cuda:0";
    result = Train(device_job);
    EXPECT_EQ(result.code, kExitEnvironment);
    EXPECT_NE(result.log.find("CUDA is not available"), std::string::npos)
        << result.log;
  }
}

TEST_F(TrainerTest, ResumeRules) {
  // Another job's checkpoint is refused.
  TempDir dir;
  TrainerOptions options;
  options.job = Job({{"epochs", "1"}});
  options.checkpoint_dir = dir.str();
  ASSERT_EQ(Train(options).code, kExitDone);
  TrainerOptions other = options;
  other.job = Job({{"epochs", "1"}, {"lr", "0.01"}});
  other.resume = true;
  Result result = Train(other);
  EXPECT_EQ(result.code, kExitBadConfig);
  EXPECT_NE(result.log.find("another job config"), std::string::npos);

  // More epochs is the same job, extended.
  TrainerOptions longer = options;
  longer.job = Job({{"epochs", "2"}});
  longer.resume = true;
  Result extended = Train(longer);
  ASSERT_EQ(extended.code, kExitDone) << extended.log;
  ASSERT_EQ(extended.Epochs().size(), 1u);
  EXPECT_EQ(extended.Epochs()[0]["epoch"], 2);

  // No checkpoint yet: a fresh start.
  TempDir empty;
  TrainerOptions fresh = options;
  fresh.checkpoint_dir = empty.str();
  fresh.resume = true;
  Result started = Train(fresh);
  ASSERT_EQ(started.code, kExitDone) << started.log;
  EXPECT_EQ(started.Epochs().size(), 1u);
}

}  // namespace
}  // namespace switchyard::worker::train
