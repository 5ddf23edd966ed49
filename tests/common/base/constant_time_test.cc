// ConstantTimeEquals: right answers, and a time that does not depend on where
// a guess goes wrong or on its length.
#include "common/base/constant_time.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

namespace switchyard::common {
namespace {

TEST(ConstantTimeEqualsTest, Answers) {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(ConstantTimeEquals(secret, secret));
  EXPECT_TRUE(ConstantTimeEquals(std::string(secret), secret));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("", secret));
  EXPECT_FALSE(ConstantTimeEquals(secret, ""));
  EXPECT_FALSE(
      ConstantTimeEquals("x" + secret.substr(1), secret));  // first byte
  EXPECT_FALSE(
      ConstantTimeEquals(secret.substr(0, 31) + "x", secret));     // last byte
  EXPECT_FALSE(ConstantTimeEquals(secret.substr(0, 31), secret));  // a prefix
  EXPECT_FALSE(ConstantTimeEquals(secret + "0", secret));          // longer
  EXPECT_FALSE(ConstantTimeEquals(secret + std::string(1, '\0'), secret));
  EXPECT_FALSE(
      ConstantTimeEquals(std::string(32, '\0'), std::string(31, '\0')));
  // Every single-bit flip anywhere is seen.
  for (size_t i = 0; i < secret.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string guess = secret;
      guess[i] = static_cast<char>(guess[i] ^ (1 << bit));
      EXPECT_FALSE(ConstantTimeEquals(guess, secret))
          << "byte " << i << " bit " << bit;
    }
  }
}

// The fastest of `rounds` comparisons, in nanoseconds. The minimum is what
// the code costs; scheduling noise only ever adds time.
double FastestNanos(const std::string& given, const std::string& expected,
                    int rounds) {
  double best = 1e30;
  volatile bool sink = false;  // keeps the result alive
  for (int r = 0; r < rounds; ++r) {
    auto start = std::chrono::steady_clock::now();
    sink = ConstantTimeEquals(given, expected);
    auto end = std::chrono::steady_clock::now();
    best = std::min(
        best, std::chrono::duration<double, std::nano>(end - start).count());
  }
  EXPECT_EQ(sink, given == expected);
  return best;
}

// With a 1 MiB secret an early exit at the first differing byte would be
// thousands of times faster than a full pass; a constant-time comparison
// takes the same time whichever byte differs and whatever the guess's length.
// The bound (3x) leaves room for a busy machine.
TEST(ConstantTimeEqualsTest, TimeDoesNotDependOnTheGuess) {
  const std::string secret(1 << 20, 'k');
  std::string wrong_first = secret;
  wrong_first.front() = 'x';
  std::string wrong_last = secret;
  wrong_last.back() = 'x';
  const std::string short_guess = "k";
  constexpr int kRounds = 40;
  const double equal = FastestNanos(secret + "", secret, kRounds);
  const double first = FastestNanos(wrong_first, secret, kRounds);
  const double last = FastestNanos(wrong_last, secret, kRounds);
  const double short_one = FastestNanos(short_guess, secret, kRounds);
  const double slowest = std::max({equal, first, last, short_one});
  const double fastest = std::min({equal, first, last, short_one});
  EXPECT_LT(slowest / fastest, 3.0)
      << "equal " << equal << " ns, first byte wrong " << first
      << " ns, last byte wrong " << last << " ns, one-byte guess " << short_one
      << " ns";
  // A pass over 1 MiB cannot take under 20 microseconds byte by byte: the
  // comparison really reads the whole secret even for a one-byte guess.
  EXPECT_GT(short_one, 20'000.0);
}

}  // namespace
}  // namespace switchyard::common
