// common/rpc on top of common/base: TokensEqual (bearer tokens) is the
// constant-time comparison, and ToGrpcStatus bounds the messages it sends.
#include <gtest/gtest.h>

#include <string>

#include "common/rpc/auth.h"
#include "common/rpc/status.h"

namespace switchyard::common {
namespace {

TEST(TokensEqualTest, ComparesWholeTokens) {
  const std::string token = NewToken();
  ASSERT_EQ(token.size(), 64u);
  EXPECT_TRUE(TokensEqual(token, token));
  EXPECT_FALSE(TokensEqual(token.substr(0, 63), token));
  EXPECT_FALSE(TokensEqual(token + "0", token));
  EXPECT_FALSE(TokensEqual("", token));
  EXPECT_FALSE(TokensEqual(NewToken(), token));
}

TEST(ToGrpcStatusTest, KeepsCodesAndBoundsMessages) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  grpc::Status short_one =
      ToGrpcStatus(absl::NotFoundError("sweep 3 does not exist"));
  EXPECT_EQ(short_one.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(short_one.error_message(), "sweep 3 does not exist");
  // A hostile megabyte echoed in a message is cut, at a character boundary.
  std::string huge = "model: unknown value '" + std::string(1 << 20, 'x') + "'";
  grpc::Status cut = ToGrpcStatus(absl::InvalidArgumentError(huge));
  EXPECT_EQ(cut.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LE(cut.error_message().size(), kMaxStatusMessageBytes + 32);
  EXPECT_EQ(cut.error_message().substr(0, 22), "model: unknown value '");
  EXPECT_NE(cut.error_message().find(" bytes cut)"), std::string::npos);
  std::string wide;
  while (wide.size() < 4 * kMaxStatusMessageBytes)
    wide += "扫";  // 3 bytes each
  grpc::Status utf8 = ToGrpcStatus(absl::InvalidArgumentError(wide));
  std::string kept =
      utf8.error_message().substr(0, utf8.error_message().find("..."));
  EXPECT_EQ(kept.size() % 3, 0u) << "cut inside a character";
  EXPECT_EQ(wide.substr(0, kept.size()), kept);
}

}  // namespace
}  // namespace switchyard::common
