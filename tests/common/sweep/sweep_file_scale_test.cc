// Large sweep files parse in time that grows like n log n: a list of 100,000
// seeds (the most cells a grid may have) once took two minutes because each
// value was compared with every earlier one.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/sweep/sweep_file.h"

namespace switchyard::common {
namespace {

std::string Seeds(int count, int repeat_at = -1) {
  std::string text = "name: big\nmodel: mlp\nseed: [";
  for (int i = 0; i < count; ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(i == repeat_at ? 0 : i);
  }
  return text + "]\n";
}

TEST(SweepFileScaleTest, AHundredThousandSeedsParseInSeconds) {
  const std::string text = Seeds(100'000);
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<SweepDefinition> sweep = ParseSweepText(text, "big.yaml");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(CountCells(*sweep).value_or(0), 100'000);
  // About 2 s here; the quadratic check took about 110 s.
  EXPECT_LT(seconds, 30.0);
}

TEST(SweepFileScaleTest, ARepeatLateInALongListIsStillFound) {
  absl::StatusOr<SweepDefinition> sweep =
      ParseSweepText(Seeds(50'000, /*repeat_at=*/49'999), "big.yaml");
  ASSERT_FALSE(sweep.ok());
  EXPECT_NE(sweep.status().message().find("seed: the value 0 is listed twice"),
            std::string::npos)
      << sweep.status();
}

}  // namespace
}  // namespace switchyard::common
