#include "bench/bench_args.h"

#include <gtest/gtest.h>

namespace switchyard::bench {
namespace {

TEST(IntFlagTest, AcceptsWholeNumbersInRange) {
  EXPECT_EQ(IntFlag("b", "--jobs", "1000", 1), 1000);
  EXPECT_EQ(IntFlag("b", "--jobs", "1", 1, 5), 1);
  EXPECT_EQ(IntFlag("b", "--jobs", "5", 1, 5), 5);
  EXPECT_EQ(IntFlag("b", "--offset", "-3", -10), -3);
}

TEST(IntFlagDeathTest, RefusesTextWithFlagAndValueNamed) {
  EXPECT_EXIT(IntFlag("compare_switchyard", "--jobs", "ten", 1), testing::ExitedWithCode(2),
              "compare_switchyard: --jobs: expected a whole number from 1 up, got 'ten'");
}

TEST(IntFlagDeathTest, RefusesTrailingText) {
  EXPECT_EXIT(IntFlag("b", "--reps", "3x", 1), testing::ExitedWithCode(2),
              "--reps: expected a whole number from 1 up, got '3x'");
}

TEST(IntFlagDeathTest, RefusesEmptyValue) {
  // A flag given last, with no value after it.
  EXPECT_EXIT(IntFlag("b", "--reps", "", 1), testing::ExitedWithCode(2),
              "--reps: expected a whole number from 1 up, got ''");
}

TEST(IntFlagDeathTest, RefusesOutOfRange) {
  EXPECT_EXIT(IntFlag("b", "--workers", "0", 1, 256), testing::ExitedWithCode(2),
              "--workers: expected a whole number from 1 to 256, got '0'");
  EXPECT_EXIT(IntFlag("b", "--workers", "257", 1, 256), testing::ExitedWithCode(2),
              "got '257'");
  EXPECT_EXIT(IntFlag("b", "--points", "99999999999999999999", 1), testing::ExitedWithCode(2),
              "--points: expected a whole number");
}

TEST(IntListFlagTest, ParsesEveryItem) {
  EXPECT_EQ(IntListFlag("b", "--chunks", "0,64,1024", 0), (std::vector<int64_t>{0, 64, 1024}));
  EXPECT_EQ(IntListFlag("b", "--chunks", "7", 0), (std::vector<int64_t>{7}));
}

TEST(IntListFlagDeathTest, RefusesABadItem) {
  EXPECT_EXIT(IntListFlag("b", "--chunks", "0,,64", 0), testing::ExitedWithCode(2),
              "--chunks: expected a whole number from 0 up, got ''");
  EXPECT_EXIT(IntListFlag("b", "--chunks", "0,-1", 0), testing::ExitedWithCode(2),
              "got '-1'");
}

TEST(PositiveFlagTest, AcceptsPositiveNumbers) {
  EXPECT_DOUBLE_EQ(PositiveFlag("b", "--paced-rate", "2.5"), 2.5);
  EXPECT_DOUBLE_EQ(PositiveFlag("b", "--paced-rate", "1e3"), 1000);
}

TEST(PositiveFlagDeathTest, RefusesZeroNegativeTextAndInfinity) {
  for (const char* bad : {"0", "-1", "fast", "", "inf", "nan", "2.5s"}) {
    EXPECT_EXIT(PositiveFlag("b", "--paced-rate", bad), testing::ExitedWithCode(2),
                "--paced-rate: expected a number greater than 0")
        << bad;
  }
}

}  // namespace
}  // namespace switchyard::bench
