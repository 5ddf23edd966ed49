#include "common/base/random_hex.h"

#include <gtest/gtest.h>

#include <set>

namespace switchyard::common {
namespace {

TEST(RandomHexTest, GivesTwoLowercaseHexCharactersPerByte) {
  for (size_t bytes : {0u, 1u, 16u, 32u, 300u}) {
    const std::string hex = RandomHex(bytes);
    EXPECT_EQ(hex.size(), 2 * bytes);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
  }
}

TEST(RandomHexTest, NeverRepeatsAndUsesEveryDigit) {
  std::set<std::string> seen;
  std::set<char> digits;
  for (int i = 0; i < 1000; ++i) {
    const std::string hex = RandomHex(16);
    EXPECT_TRUE(seen.insert(hex).second) << "repeated " << hex;
    digits.insert(hex.begin(), hex.end());
  }
  EXPECT_EQ(digits.size(), 16u);  // 32,000 digits: all sixteen appear
}

}  // namespace
}  // namespace switchyard::common
