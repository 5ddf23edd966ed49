#include "worker/agent/trainer_output.h"

#include <map>

#include "gtest/gtest.h"

namespace switchyard::worker {
namespace {

TEST(TrainerOutputTest, AnEpochLineBecomesOnePointPerNumericKeyButStep) {
  auto event = ParseTrainerLine(
      R"({"epoch":3,"step":300,"loss":0.25,"eval_loss":0.5,"accuracy":0.9,)"
      R"("accuracy_I":0.8,"samples_per_sec":1234.5,"note":"text","flag":true,"gone":null})",
      1700000123.5);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->kind, TrainerEvent::Kind::kMetrics);
  EXPECT_EQ(event->step, 300);
  std::map<std::string, double> values;
  for (const auto& p : event->points) {
    EXPECT_EQ(p.step(), 300);
    EXPECT_DOUBLE_EQ(p.wall_time(), 1700000123.5);
    values[p.name()] = p.value();
  }
  EXPECT_EQ(values, (std::map<std::string, double>{{"accuracy", 0.9},
                                                   {"accuracy_I", 0.8},
                                                   {"epoch", 3},
                                                   {"eval_loss", 0.5},
                                                   {"loss", 0.25},
                                                   {"samples_per_sec", 1234.5}}));
}

TEST(TrainerOutputTest, ACheckpointLine) {
  auto event = ParseTrainerLine(R"({"checkpoint":"/w/checkpoints/ckpt-400.pt","step":400})", 0);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->kind, TrainerEvent::Kind::kCheckpoint);
  EXPECT_EQ(event->step, 400);
  EXPECT_EQ(event->checkpoint_path, "/w/checkpoints/ckpt-400.pt");
}

TEST(TrainerOutputTest, ASummaryLineIsKeptAsIs) {
  const std::string line = R"({"summary":true,"parameters":1234,"final_loss":0.1})";
  auto event = ParseTrainerLine(line + "  \n", 0);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->kind, TrainerEvent::Kind::kSummary);
  EXPECT_EQ(event->json, line);
}

TEST(TrainerOutputTest, AnErrorLineIsNotMetrics) {
  auto event = ParseTrainerLine(R"({"error":"loss is nan at step 3","exit_code":3,"step":3})", 0);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->kind, TrainerEvent::Kind::kError);
  EXPECT_EQ(event->error, "loss is nan at step 3");
}

TEST(TrainerOutputTest, NullValuesAreSkipped) {
  auto event = ParseTrainerLine(R"({"epoch":1,"step":10,"loss":1,"samples_per_sec":null})", 0);
  ASSERT_TRUE(event.ok());
  ASSERT_EQ(event->points.size(), 2u);
  EXPECT_EQ(event->points[0].name(), "epoch");
  EXPECT_EQ(event->points[1].name(), "loss");
}

TEST(TrainerOutputTest, AFloatStepWithoutAFractionIsAccepted) {
  auto event = ParseTrainerLine(R"({"epoch":1,"step":100.0,"loss":1})", 0);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->step, 100);
}

TEST(TrainerOutputTest, UnknownShapesAreOther) {
  auto event = ParseTrainerLine(R"({"progress":0.5})", 0);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->kind, TrainerEvent::Kind::kOther);
}

TEST(TrainerOutputTest, MalformedLinesAreInvalidArgument) {
  for (const char* line : {"not json", "[1,2]", R"({"epoch":1,"step":-5,"loss":1})",
                           R"({"epoch":1,"step":1.5})", R"({"checkpoint":"","step":3})",
                           R"({"checkpoint":"x.pt"})", R"({"epoch":1,"step":"7"})"}) {
    auto event = ParseTrainerLine(line, 0);
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument) << line;
  }
}

}  // namespace
}  // namespace switchyard::worker
