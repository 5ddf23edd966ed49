#include "common/base/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace switchyard::common {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_EQ(FirstInvalidUtf8(""), std::nullopt);
  EXPECT_EQ(FirstInvalidUtf8("plain ascii\n"), std::nullopt);
  EXPECT_EQ(FirstInvalidUtf8("caf\xC3\xA9"), std::nullopt);                 // U+00E9
  EXPECT_EQ(FirstInvalidUtf8("\xE2\x82\xAC 5"), std::nullopt);              // U+20AC
  EXPECT_EQ(FirstInvalidUtf8("\xED\x9F\xBF"), std::nullopt);                // U+D7FF
  EXPECT_EQ(FirstInvalidUtf8("\xF0\x9F\x98\x80"), std::nullopt);            // U+1F600
  EXPECT_EQ(FirstInvalidUtf8("\xF4\x8F\xBF\xBF"), std::nullopt);            // U+10FFFF
}

TEST(Utf8Test, FindsTheFirstBadByte) {
  EXPECT_EQ(FirstInvalidUtf8("ab\xFF"), 2u);                // never valid
  EXPECT_EQ(FirstInvalidUtf8("\x80"), 0u);                  // stray continuation
  EXPECT_EQ(FirstInvalidUtf8("x\xC0\x80"), 1u);             // overlong NUL
  EXPECT_EQ(FirstInvalidUtf8("\xE0\x80\x80"), 0u);          // overlong 3-byte
  EXPECT_EQ(FirstInvalidUtf8("\xF0\x80\x80\x80"), 0u);      // overlong 4-byte
  EXPECT_EQ(FirstInvalidUtf8("\xED\xA0\x80"), 0u);          // surrogate U+D800
  EXPECT_EQ(FirstInvalidUtf8("\xF4\x90\x80\x80"), 0u);      // above U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8("ok \xE2\x82"), 3u);           // truncated at the end
  EXPECT_EQ(FirstInvalidUtf8("\xE2\x28\xA1"), 0u);          // bad continuation
  EXPECT_EQ(FirstInvalidUtf8("\xC3\xA9\xC3"), 2u);          // after a good one
  EXPECT_EQ(FirstInvalidUtf8(std::string("a\0\xFF", 3)), 2u);  // NUL is valid
}

}  // namespace
}  // namespace switchyard::common
