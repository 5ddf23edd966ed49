#include "client/args.h"

#include <gtest/gtest.h>

namespace switchyard::client {
namespace {

const std::vector<FlagSpec> kGlobal = {{"coordinator", "HOST:PORT", "where"},
                                       {"output", "FORMAT", "how"}};

CommandSpec Spec() {
  return {"submit",
          "FILE.yaml",
          "submit",
          "",
          {{"name", "N", "a name"}, {"priority", "P", "p"}, {"dry-run", "", "do not"}},
          1,
          1};
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST(ParseArgs, FlagsInAnyOrderWithBothSpellings) {
  absl::StatusOr<Args> args =
      ParseArgs(Spec(), kGlobal,
                {"--name=x", "f.yaml", "--priority", "-5", "--dry-run", "--coordinator", "h:1"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->positionals(), std::vector<std::string>{"f.yaml"});
  EXPECT_EQ(args->Get("name"), "x");
  EXPECT_EQ(args->Get("priority"), "-5");  // a value may start with a dash
  EXPECT_TRUE(args->Has("dry-run"));
  EXPECT_EQ(args->Get("coordinator"), "h:1");
  EXPECT_FALSE(args->Has("output"));
  EXPECT_EQ(args->Get("output", "table"), "table");
}

TEST(ParseArgs, LastValueWinsAndDoubleDashEndsFlags) {
  absl::StatusOr<Args> args =
      ParseArgs(Spec(), kGlobal, {"--name", "a", "--name", "b", "--", "--odd.yaml"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->Get("name"), "b");
  EXPECT_EQ(args->positionals(), std::vector<std::string>{"--odd.yaml"});
}

TEST(ParseArgs, HelpAnywhereSkipsOtherChecks) {
  absl::StatusOr<Args> args = ParseArgs(Spec(), kGlobal, {"--bogus", "--help"});
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(args->help());
  EXPECT_TRUE(ParseArgs(Spec(), kGlobal, {"-h"})->help());
}

TEST(ParseArgs, UnknownFlagSuggestsTheClosest) {
  absl::StatusOr<Args> args = ParseArgs(Spec(), kGlobal, {"f.yaml", "--nmae", "x"});
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Message(args.status()),
      "--nmae: unknown flag for 'submit'; did you mean --name? (see switchyard submit --help)");
}

TEST(ParseArgs, Errors) {
  EXPECT_EQ(Message(ParseArgs(Spec(), kGlobal, {"f.yaml", "--name"}).status()),
            "--name: expected a value (N)");
  EXPECT_EQ(Message(ParseArgs(Spec(), kGlobal, {"f.yaml", "--dry-run=yes"}).status()),
            "--dry-run: takes no value");
  EXPECT_EQ(Message(ParseArgs(Spec(), kGlobal, {}).status()),
            "submit: missing FILE.yaml (usage: switchyard submit FILE.yaml [flags])");
  EXPECT_EQ(Message(ParseArgs(Spec(), kGlobal, {"a.yaml", "b.yaml"}).status()),
            "submit: unexpected argument 'b.yaml' (usage: switchyard submit FILE.yaml [flags])");
  EXPECT_EQ(Message(ParseArgs(Spec(), kGlobal, {"f.yaml", "-n"}).status()),
            "-n: unknown option; flags are written with two dashes, e.g. --help");
}

TEST(CommandHelp, ListsUsageFlagsAndGlobals) {
  std::string help = CommandHelp(Spec(), kGlobal);
  EXPECT_NE(help.find("usage: switchyard submit FILE.yaml [flags]"), std::string::npos);
  EXPECT_NE(help.find("--priority P"), std::string::npos);
  EXPECT_NE(help.find("--dry-run"), std::string::npos);
  EXPECT_NE(help.find("global flags:"), std::string::npos);
  EXPECT_NE(help.find("--coordinator HOST:PORT"), std::string::npos);
}

TEST(FlagValues, Integers) {
  EXPECT_EQ(*ParseIntFlag("--count", "20", 1, 100), 20);
  EXPECT_EQ(Message(ParseIntFlag("--count", "abc", 1, 100).status()),
            "--count: expected an integer, got 'abc'");
  EXPECT_EQ(Message(ParseIntFlag("--count", "12x", 1, 100).status()),
            "--count: expected an integer, got '12x'");
  EXPECT_EQ(Message(ParseIntFlag("--count", "", 1, 100).status()),
            "--count: expected an integer, got ''");
  EXPECT_EQ(Message(ParseIntFlag("--count", "0", 1, 100).status()),
            "--count: 0 is out of range [1, 100]");
  EXPECT_EQ(Message(ParseIntFlag("--count", "99999999999999999999", 1, 100).status()),
            "--count: 99999999999999999999 is out of range [1, 100]");
}

TEST(FlagValues, Uint64AndDoubleAndChoices) {
  EXPECT_EQ(*ParseUint64Flag("--seed", "18446744073709551615"), 18446744073709551615ull);
  EXPECT_EQ(Message(ParseUint64Flag("--seed", "-1").status()),
            "--seed: expected a non-negative integer, got '-1'");
  EXPECT_EQ(Message(ParseUint64Flag("--seed", "18446744073709551616").status()),
            "--seed: 18446744073709551616 is out of range [0, 18446744073709551615]");
  EXPECT_DOUBLE_EQ(*ParseDoubleFlag("--timeout", "2.5", 0.1, 10), 2.5);
  EXPECT_EQ(Message(ParseDoubleFlag("--timeout", "nan", 0.1, 10).status()),
            "--timeout: expected a number, got 'nan'");
  EXPECT_EQ(*ParseChoiceFlag("--kind", "bars", {"curves", "bars"}), "bars");
  EXPECT_EQ(Message(ParseChoiceFlag("--kind", "pie", {"curves", "bars"}).status()),
            "--kind: unknown value 'pie'; expected one of curves, bars");
}

TEST(FlagValues, Lists) {
  EXPECT_EQ(*ParseListFlag("--state", "failed,lost", {"failed", "lost"}),
            (std::vector<std::string>{"failed", "lost"}));
  EXPECT_EQ(Message(ParseListFlag("--state", "failed,,lost", {"failed", "lost"}).status()),
            "--state: expected a comma-separated list, got 'failed,,lost'");
  EXPECT_EQ(Message(ParseListFlag("--state", "failed,failed", {"failed", "lost"}).status()),
            "--state: 'failed' is listed twice");
  EXPECT_EQ(Message(ParseListFlag("--state", "running", {"failed", "lost"}).status()),
            "--state: unknown value 'running'; expected one of failed, lost");
}

TEST(FlagValues, Ids) {
  EXPECT_EQ(*ParseId("SWEEP", "42"), 42);
  for (const char* bad : {"0", "-1", "x", "", "1.5", "9999999999999999999"}) {
    EXPECT_FALSE(ParseId("SWEEP", bad).ok()) << bad;
  }
  EXPECT_EQ(Message(ParseId("JOB", "abc").status()),
            "JOB: expected a positive id such as 3, got 'abc'");
}

}  // namespace
}  // namespace switchyard::client
