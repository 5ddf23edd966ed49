// The rule engine against the spec's worked examples, and option handling.
#include <sstream>
#include <string>
#include <vector>

#include "common/tasks/iarc.h"
#include "gtest/gtest.h"

namespace switchyard::tasks {
namespace {

// Replays an example written as in the spec ("1 2 [I] 3 4 [A] 7 ...") through
// a RuleEngine: the seeds and the bracketed control tokens are fed in, every
// other number is produced by the engine and must equal the example's.
// Returns the rules of the produced numbers.
std::vector<Rule> Replay(const std::string& example, int n, CMode mode) {
  std::istringstream in(example);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  EXPECT_GE(words.size(), 3u);
  RuleEngine engine(n, mode, 'I');
  engine.Seed(std::stoi(words[0]), std::stoi(words[1]));
  Rng unused(0);
  std::vector<Rule> rules;
  for (size_t i = 2; i < words.size(); ++i) {
    if (words[i].front() == '[') {
      engine.Control(words[i][1]);
      continue;
    }
    const Token token = engine.NextNumber(&unused);
    EXPECT_FALSE(token.is_control);
    EXPECT_EQ(token.number, std::stoi(words[i]))
        << "word " << i << " of: " << example;
    EXPECT_EQ(token.id, token.number);
    rules.push_back(token.rule);
  }
  return rules;
}

constexpr Rule I = Rule::kI;
constexpr Rule A = Rule::kA;
constexpr Rule R = Rule::kR;
constexpr Rule C = Rule::kC;

TEST(WorkedExamplesTest, FirstExampleIncrementThenAddition) {
  EXPECT_EQ(Replay("1 2 [I] 3 4 [A] 7 1 8 9 7 [I] 8 9 0 1", 10,
                   CMode::kPerToken),
            (std::vector<Rule>{I, I, A, A, A, A, A, I, I, I, I}));
}

TEST(WorkedExamplesTest, SecondExampleReverseCopyRestartedByC) {
  EXPECT_EQ(Replay("2 3 [I] 4 [A] 7 1 8 [R] 8 1 7 4 3 [C] 3 4 7", 10,
                   CMode::kPerToken),
            (std::vector<Rule>{I, A, A, A, R, R, R, R, R, R, R, R}));
}

TEST(WorkedExamplesTest, ThirdExampleCRaisesIncrementUntilNextI) {
  EXPECT_EQ(Replay("4 5 [I] 6 7 [C] 9 1 3 [C] 6 9 [I] 0 1", 10,
                   CMode::kPerToken),
            (std::vector<Rule>{I, I, C, C, C, C, C, I, I}));
}

// The other reading of "consecutively increasing the increment": after a C
// (k = 2) the increment grows with every number: 7+2, 9+3, 2+4; the second C
// raises it once more (5 -> 6): 6+6, 2+7; the I resets it to 1.
TEST(WorkedExamplesTest, ThirdExampleUnderPerStep) {
  EXPECT_EQ(Replay("4 5 [I] 6 7 [C] 9 2 6 [C] 2 9 [I] 0 1", 10,
                   CMode::kPerStep),
            (std::vector<Rule>{I, I, C, C, C, C, C, I, I}));
}

TEST(RuleEngineTest, CActsAsAnotherAOnAnATask) {
  Replay("1 2 [A] 3 [C] 5 8 3 [I] 4", 10, CMode::kPerToken);
  // And does not carry a raised increment into the next I.
  Replay("1 2 [I] 3 [C] 5 [A] 8 [C] 3 [I] 4", 10, CMode::kPerStep);
}

TEST(RuleEngineTest, ReverseCopyDrawsPastTheStartAndCountsTheDraw) {
  RuleEngine engine(10, CMode::kPerToken, 'I');
  engine.Seed(4, 6);
  engine.Control('R');
  Rng rng(5);
  const Rng before = rng;
  EXPECT_EQ(engine.NextNumber(&rng).number, 6);
  EXPECT_EQ(engine.NextNumber(&rng).number, 4);
  Rng reference = before;
  // Copies used no draws; the next one runs past the start and draws one.
  EXPECT_EQ(rng.SaveState(), before.SaveState());
  const Token drawn = engine.NextNumber(&rng);
  EXPECT_EQ(drawn.number, static_cast<int>(reference.Uniform(10)));
  EXPECT_EQ(drawn.rule, Rule::kR);
  EXPECT_EQ(rng.SaveState(), reference.SaveState());
  EXPECT_EQ(engine.numbers_so_far(), 5);
}

TEST(RuleEngineTest, LeadingCActsOnTheFirstTask) {
  RuleEngine on_i(10, CMode::kPerToken, 'I');
  on_i.Seed(1, 2);
  on_i.Control('C');
  Token t = on_i.NextNumber(nullptr);
  EXPECT_EQ(t.number, 4);
  EXPECT_EQ(t.rule, Rule::kC);

  RuleEngine on_r(10, CMode::kPerToken, 'R');
  on_r.Seed(1, 2);
  on_r.Control('C');
  EXPECT_EQ(on_r.NextNumber(nullptr).number, 2);
  EXPECT_EQ(on_r.NextNumber(nullptr).number, 1);
}

TEST(RuleEngineTest, SeedStartsAFreshStream) {
  RuleEngine engine(10, CMode::kPerStep, 'I');
  engine.Seed(1, 2);
  engine.Control('I');
  engine.Control('C');
  engine.NextNumber(nullptr);
  engine.Seed(5, 5);
  engine.Control('I');
  const Token t = engine.NextNumber(nullptr);
  EXPECT_EQ(t.number, 6);
  EXPECT_EQ(t.rule, Rule::kI);
  EXPECT_EQ(engine.numbers_so_far(), 3);
}

// ---------------------------------------------------------------------------
// Options

IarcOptions WithTasks(const std::string& tasks) {
  IarcOptions options;
  options.tasks = tasks;
  return options;
}

TEST(ValidateOptionsTest, DefaultsAndEveryCanonicalSubsetAreValid) {
  EXPECT_EQ(ValidateOptions(IarcOptions()), "");
  for (const char* tasks : {"IARC", "IAR", "IAC", "IRC", "ARC", "IA", "IR",
                            "IC", "AR", "AC", "RC", "I", "A", "R"}) {
    EXPECT_EQ(ValidateOptions(WithTasks(tasks)), "") << tasks;
  }
}

TEST(ValidateOptionsTest, TaskErrorsNameTheOption) {
  EXPECT_EQ(ValidateOptions(WithTasks("C")),
            "tasks: 'C' must contain one of I, A, R");
  EXPECT_EQ(ValidateOptions(WithTasks("IX")),
            "tasks: 'IX' has an unknown letter 'X'; allowed: a non-empty "
            "subset of IARC in that order");
  EXPECT_EQ(ValidateOptions(WithTasks("")),
            "tasks: '' is empty; allowed: a non-empty subset of IARC in that "
            "order");
  EXPECT_EQ(ValidateOptions(WithTasks("AI")),
            "tasks: 'AI' is not in canonical order; write 'IA' (allowed: a "
            "non-empty subset of IARC in that order)");
  EXPECT_EQ(ValidateOptions(WithTasks("IIA")),
            "tasks: 'IIA' repeats the letter 'I'; allowed: a non-empty subset "
            "of IARC in that order");
  EXPECT_EQ(ValidateOptions(WithTasks("iarc")).rfind("tasks: ", 0), 0u);
}

TEST(ValidateOptionsTest, NumericErrorsNameTheOption) {
  struct Case {
    IarcOptions options;
    std::string prefix;
  };
  std::vector<Case> cases;
  auto add = [&](auto edit, const std::string& prefix) {
    IarcOptions o;
    edit(o);
    cases.push_back({o, prefix});
  };
  add([](IarcOptions& o) { o.d = 5; }, "d: 5 leaves N = 1 number tokens");
  add([](IarcOptions& o) { o.d = -3; }, "d: ");
  add([](IarcOptions& o) { o.d = kMaxOptionValue + 1; }, "d: ");
  add([](IarcOptions& o) { o.switch_min = 1; }, "switch_min: 1 must be");
  add([](IarcOptions& o) { o.switch_min = 0; }, "switch_min: ");
  add([](IarcOptions& o) { o.switch_min = 10; },
      "switch_max: 9 is less than switch_min 10");
  add([](IarcOptions& o) { o.switch_max = kMaxOptionValue + 1; },
      "switch_max: ");
  add([](IarcOptions& o) { o.context_length = 0; }, "context_length: 0");
  add([](IarcOptions& o) { o.burn_in = -2; }, "burn_in: -2");
  add([](IarcOptions& o) { o.c_mode = static_cast<CMode>(7); }, "c_mode: ");
  add([](IarcOptions& o) { o.layout = static_cast<Layout>(7); }, "layout: ");
  for (const Case& c : cases) {
    const std::string error = ValidateOptions(c.options);
    EXPECT_EQ(error.rfind(c.prefix, 0), 0u) << error;
  }
  IarcOptions smallest;
  smallest.tasks = "I";
  smallest.d = 3;  // N = 2
  smallest.switch_min = smallest.switch_max = 2;
  smallest.context_length = 1;
  smallest.burn_in = 0;
  EXPECT_EQ(ValidateOptions(smallest), "");
}

TEST(OptionNamesTest, ParseAndNameRoundTrip) {
  for (CMode mode : {CMode::kPerToken, CMode::kPerStep}) {
    CMode parsed = CMode::kPerToken;
    ASSERT_TRUE(ParseCMode(CModeName(mode), &parsed));
    EXPECT_EQ(parsed, mode);
  }
  for (Layout layout : {Layout::kSeparate, Layout::kAttached}) {
    Layout parsed = Layout::kSeparate;
    ASSERT_TRUE(ParseLayout(LayoutName(layout), &parsed));
    EXPECT_EQ(parsed, layout);
  }
  EXPECT_STREQ(CModeName(CMode::kPerStep), "per_step");
  EXPECT_STREQ(LayoutName(Layout::kAttached), "attached");
  CMode mode = CMode::kPerStep;
  EXPECT_FALSE(ParseCMode("per-token", &mode));
  EXPECT_EQ(mode, CMode::kPerStep);
  Layout layout = Layout::kAttached;
  EXPECT_FALSE(ParseLayout("Separate", &layout));
  EXPECT_EQ(layout, Layout::kAttached);
}

TEST(TokenIdsTest, NumberCountAndControlIdsFollowTheSpec) {
  EXPECT_EQ(NumberCount(WithTasks("IARC")), 16);
  EXPECT_EQ(NumberCount(WithTasks("IAR")), 17);
  EXPECT_EQ(NumberCount(WithTasks("IA")), 18);
  const IarcOptions iarc = WithTasks("IARC");
  EXPECT_EQ(ControlTokenId(iarc, 'I'), 16);
  EXPECT_EQ(ControlTokenId(iarc, 'A'), 17);
  EXPECT_EQ(ControlTokenId(iarc, 'R'), 18);
  EXPECT_EQ(ControlTokenId(iarc, 'C'), 19);
  const IarcOptions ic = WithTasks("IC");
  EXPECT_EQ(ControlTokenId(ic, 'I'), 18);
  EXPECT_EQ(ControlTokenId(ic, 'C'), 19);
  EXPECT_EQ(ControlTokenId(ic, 'A'), -1);
  EXPECT_EQ(ControlTokenId(ic, 'X'), -1);
  EXPECT_EQ(ControlTokenId(ic, '\0'), -1);
}

TEST(BurnInTest, DefaultIsTwiceSwitchMaxUnlessThatIsTooShort) {
  IarcOptions o;
  EXPECT_EQ(BurnIn(o), 18);
  o.burn_in = 5;
  EXPECT_EQ(BurnIn(o), 5);
  o.burn_in = -1;
  o.switch_min = 2;
  EXPECT_EQ(BurnIn(o), 21);  // 2*9 - 2 + 5/1
  o.switch_min = o.switch_max = 3;
  EXPECT_EQ(BurnIn(o), 6);
  o.switch_min = o.switch_max = 2;
  EXPECT_EQ(BurnIn(o), 4);
}

TEST(InvalidOptionsDeathTest, GeneratorsRefuseInvalidOptions) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(WindowSampler(WithTasks("C"), 1), "tasks: 'C' must contain");
  EXPECT_DEATH(FormatStream(WithTasks("IX"), 1, 10), "tasks: 'IX'");
  Rng rng(1);
  IarcOptions bad;
  bad.switch_min = 1;
  EXPECT_DEATH(StreamGenerator(bad, &rng), "switch_min: ");
}

}  // namespace
}  // namespace switchyard::tasks
