#include "common/tasks/rng.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace switchyard::tasks {
namespace {

// Reference values computed with an independent implementation of splitmix64
// seeding and xoshiro256** (a Python transcription of the authors' C code).
TEST(RngTest, SeedZeroMatchesReferenceOutputs) {
  Rng rng(0);
  EXPECT_EQ(rng.NextU64(), 0x99ec5f36cb75f2b4ULL);
  EXPECT_EQ(rng.NextU64(), 0xbf6e1f784956452aULL);
  EXPECT_EQ(rng.NextU64(), 0x1a5f849d4933e6e0ULL);
  EXPECT_EQ(rng.NextU64(), 0x6aa594f1262d2d2cULL);
  EXPECT_EQ(rng.SaveState(),
            "xoshiro256ss:b1e87922cfaa0328:53e634dfe1293913:"
            "1fdc319110a34ada:8ecf0c76f36d8e97");
}

TEST(RngTest, SeedSevenMatchesReferenceOutputs) {
  Rng rng(7);
  EXPECT_EQ(rng.NextU64(), 0xb358faf74ef9765aULL);
  EXPECT_EQ(rng.NextU64(), 0x475c3d964f482cd2ULL);
}

// The published xoshiro256** test vector for the state {1, 2, 3, 4} (as used
// by e.g. Rust's rand_xoshiro), independent of the seeding.
TEST(RngTest, StateOneTwoThreeFourMatchesPublishedVector) {
  Rng rng(0);
  ASSERT_TRUE(rng.LoadState(
      "xoshiro256ss:0000000000000001:0000000000000002:"
      "0000000000000003:0000000000000004"));
  EXPECT_EQ(rng.NextU64(), 11520ULL);
  EXPECT_EQ(rng.NextU64(), 0ULL);
  EXPECT_EQ(rng.NextU64(), 1509978240ULL);
  EXPECT_EQ(rng.NextU64(), 1215971899390074240ULL);
}

TEST(RngTest, UniformMatchesItsDefinition) {
  Rng small(42);
  std::vector<uint32_t> got;
  for (int i = 0; i < 12; ++i) got.push_back(small.Uniform(10));
  EXPECT_EQ(got, (std::vector<uint32_t>{0, 3, 6, 9, 9, 7, 7, 8, 7, 5, 6, 2}));

  // n close to 2^32: about 30% of draws are rejected, so this pins the
  // rejection path too.
  Rng large(42);
  got.clear();
  for (int i = 0; i < 6; ++i) got.push_back(large.Uniform(3000000007u));
  EXPECT_EQ(got, (std::vector<uint32_t>{251588913, 1136940754, 2040130237,
                                        2774078842, 2309218386, 2157775738}));
}

TEST(RngTest, UniformOfZeroOrOneDrawsNothing) {
  Rng a(3);
  Rng b(3);
  EXPECT_EQ(a.Uniform(0), 0u);
  EXPECT_EQ(a.Uniform(1), 0u);
  EXPECT_EQ(a.NextU64(), b.NextU64());
}

TEST(RngTest, UniformStaysInRangeAndIsFlat) {
  Rng rng(11);
  for (uint32_t n : {2u, 3u, 7u, 16u}) {
    std::vector<int> counts(n, 0);
    const int draws = 20000 * static_cast<int>(n);
    for (int i = 0; i < draws; ++i) {
      const uint32_t x = rng.Uniform(n);
      ASSERT_LT(x, n);
      ++counts[x];
    }
    double chi2 = 0;
    for (int c : counts) chi2 += (c - 20000.0) * (c - 20000.0) / 20000.0;
    // 99.9% quantile of chi-square with up to 15 degrees of freedom is 37.7.
    EXPECT_LT(chi2, 37.7) << "n=" << n;
  }
}

TEST(RngTest, SaveAndLoadResumeExactly) {
  Rng rng(123);
  for (int i = 0; i < 5; ++i) rng.NextU64();
  const std::string state = rng.SaveState();
  EXPECT_EQ(state.find(' '), std::string::npos);
  std::vector<uint64_t> expected;
  for (int i = 0; i < 10; ++i) expected.push_back(rng.NextU64());

  Rng other(999);
  ASSERT_TRUE(other.LoadState(state));
  for (uint64_t want : expected) EXPECT_EQ(other.NextU64(), want);
}

TEST(RngTest, LoadStateRejectsMalformedAndKeepsState) {
  const std::string good = Rng(5).SaveState();
  const std::vector<std::string> bad = {
      "",
      "xoshiro256ss:",
      good.substr(0, good.size() - 1),
      good + "0",
      "xoshiro256pp" + good.substr(12),
      good.substr(0, 20) + "g" + good.substr(21),
      good.substr(0, 29) + "-" + good.substr(30),  // separator replaced
      "xoshiro256ss:0000000000000000:0000000000000000:"
      "0000000000000000:0000000000000000",
  };
  for (const std::string& state : bad) {
    Rng rng(77);
    Rng untouched(77);
    EXPECT_FALSE(rng.LoadState(state)) << state;
    EXPECT_EQ(rng.NextU64(), untouched.NextU64()) << state;
  }
  std::string upper = good;
  for (char& c : upper) {
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  }
  upper.replace(0, 13, "xoshiro256ss:");
  Rng rng(0);
  EXPECT_TRUE(rng.LoadState(upper));
  EXPECT_EQ(rng.SaveState(), good);
}

TEST(RngTest, DifferentSeedsGiveDifferentStreams) {
  Rng a(1);
  Rng b(2);
  int equal = 0;
  for (int i = 0; i < 100; ++i) equal += a.NextU64() == b.NextU64();
  EXPECT_EQ(equal, 0);
}

}  // namespace
}  // namespace switchyard::tasks
