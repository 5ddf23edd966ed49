// WindowSampler: shapes, masks, rule labels, both layouts, determinism and
// exact resumption. Windows are checked against the printed streams they are
// documented to be cut from, re-derived by the independent checker.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/tasks/iarc.h"
#include "gtest/gtest.h"
#include "tests/common/tasks/iarc_checker.h"

namespace switchyard::tasks {
namespace {

int IdOf(const Printed& p, const IarcOptions& o) {
  return p.is_control ? ControlTokenId(o, p.letter) : p.number;
}

// The stream seeds a fresh WindowSampler(o, seed) uses, one per window.
std::vector<uint64_t> StreamSeeds(uint64_t seed, int count) {
  Rng rng(seed);
  std::vector<uint64_t> seeds;
  for (int i = 0; i < count; ++i) seeds.push_back(rng.NextU64());
  return seeds;
}

TEST(WindowShapeTest, SizesFollowBatchAndContextLength) {
  for (Layout layout : {Layout::kSeparate, Layout::kAttached}) {
    IarcOptions o;
    o.layout = layout;
    o.context_length = 7;
    WindowSampler sampler(o, 1);
    WindowBatch batch;
    sampler.Sample(10, &batch);
    EXPECT_EQ(batch.batch, 10);
    EXPECT_EQ(batch.length, 7);
    EXPECT_EQ(batch.input_ids.size(), 70u);
    EXPECT_EQ(batch.targets.size(), 70u);
    EXPECT_EQ(batch.rules.size(), 70u);
    EXPECT_EQ(batch.input_control_ids.size(),
              layout == Layout::kAttached ? 70u : 0u);
    for (int32_t id : batch.input_ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, o.d);
    }
    // Overwrites, never appends.
    sampler.Sample(3, &batch);
    EXPECT_EQ(batch.batch, 3);
    EXPECT_EQ(batch.input_ids.size(), 21u);
    EXPECT_EQ(batch.targets.size(), 21u);
    sampler.Sample(0, &batch);
    EXPECT_EQ(batch.batch, 0);
    EXPECT_TRUE(batch.input_ids.empty());
    sampler.Sample(-4, &batch);
    EXPECT_EQ(batch.batch, 0);
    EXPECT_TRUE(batch.rules.empty());
  }
}

// Separate layout: window w is tokens BurnIn+1 .. BurnIn+Nc+1 of stream w;
// targets are -1 with rule kNone exactly at control tokens, and every other
// rule is what the checker derives (kC only on I tasks with k > 1).
TEST(SeparateWindowsTest, AreStreamSlicesWithMasksAndRules) {
  for (const char* tasks : {"IARC", "IC", "AR"}) {
    for (CMode mode : {CMode::kPerToken, CMode::kPerStep}) {
      IarcOptions o;
      o.tasks = tasks;
      o.c_mode = mode;
      const int nc = o.context_length;
      const int burn_in = BurnIn(o);
      constexpr int kWindows = 400;
      WindowSampler sampler(o, 2024);
      WindowBatch batch;
      sampler.Sample(kWindows, &batch);
      const std::vector<uint64_t> seeds = StreamSeeds(2024, kWindows);
      std::map<Rule, long> rules_seen;
      for (int w = 0; w < kWindows; ++w) {
        const std::vector<Printed> stream =
            Parse(FormatStream(o, seeds[w], burn_in + nc + 1));
        const Derived derived = Check(stream, o);
        ASSERT_EQ(derived.error, "");
        for (int p = 0; p < nc; ++p) {
          const size_t cell = static_cast<size_t>(w) * nc + p;
          const Printed& in = stream[burn_in + p];
          const Printed& target = stream[burn_in + p + 1];
          ASSERT_EQ(batch.input_ids[cell], IdOf(in, o)) << w << ":" << p;
          ASSERT_EQ(batch.targets[cell], target.is_control ? -1 : target.number);
          ASSERT_EQ(batch.rules[cell], derived.rules[burn_in + p + 1]);
          ASSERT_EQ(batch.targets[cell] == -1,
                    batch.rules[cell] == Rule::kNone);
          ASSERT_FALSE(derived.drawn[burn_in + p + 1]);
          ++rules_seen[batch.rules[cell]];
        }
      }
      EXPECT_GT(rules_seen[Rule::kNone], 0);
      const std::string set = tasks;
      for (auto [letter, rule] : {std::pair{'I', Rule::kI}, {'A', Rule::kA},
                                  {'R', Rule::kR}}) {
        EXPECT_EQ(rules_seen[rule] > 0, set.find(letter) != std::string::npos)
            << tasks << " " << letter;
      }
      EXPECT_EQ(rules_seen[Rule::kC] > 0, set == "IARC" || set == "IC");
    }
  }
}

// Attached layout: every position is a number carrying the control token
// right before it (or -1); every target is a number.
TEST(AttachedWindowsTest, FoldControlsIntoTheFollowingNumber) {
  IarcOptions o;
  o.layout = Layout::kAttached;
  const int nc = o.context_length;
  const int burn_in = BurnIn(o);
  constexpr int kWindows = 400;
  WindowSampler sampler(o, 77);
  WindowBatch batch;
  sampler.Sample(kWindows, &batch);
  const std::vector<uint64_t> seeds = StreamSeeds(77, kWindows);
  long carried = 0;
  long carried_from_burn_in = 0;
  for (int w = 0; w < kWindows; ++w) {
    // Generously long: Nc + 1 numbers need at most 2 * (Nc + 1) more tokens.
    const int length = burn_in + 2 * (nc + 2);
    const std::vector<Printed> stream = Parse(FormatStream(o, seeds[w], length));
    const Derived derived = Check(stream, o);
    ASSERT_EQ(derived.error, "");
    // (token index of a number, id of the control right before it or -1)
    std::vector<std::pair<int, int>> folded;
    for (int p = burn_in; p < length && folded.size() < nc + 1u; ++p) {
      if (stream[p].is_control) continue;
      const int control =
          p > 0 && stream[p - 1].is_control ? IdOf(stream[p - 1], o) : -1;
      folded.emplace_back(p, control);
    }
    ASSERT_EQ(folded.size(), nc + 1u);
    if (folded[0].second >= 0 && folded[0].first == burn_in) {
      ++carried_from_burn_in;
    }
    for (int p = 0; p < nc; ++p) {
      const size_t cell = static_cast<size_t>(w) * nc + p;
      const int in = folded[p].first;
      const int target = folded[p + 1].first;
      ASSERT_EQ(batch.input_ids[cell], stream[in].number);
      ASSERT_EQ(batch.input_control_ids[cell], folded[p].second);
      ASSERT_NE(batch.targets[cell], -1);
      ASSERT_EQ(batch.targets[cell], stream[target].number);
      ASSERT_EQ(batch.rules[cell], derived.rules[target]);
      ASSERT_NE(batch.rules[cell], Rule::kNone);
      carried += folded[p].second >= 0;
    }
  }
  EXPECT_GT(carried, 0);
  EXPECT_GT(carried_from_burn_in, 0) << "the burn-in edge case was exercised";
}

TEST(WindowDeterminismTest, SameSeedSameWindowsDifferentSeedDifferent) {
  for (Layout layout : {Layout::kSeparate, Layout::kAttached}) {
    IarcOptions o;
    o.layout = layout;
    WindowSampler a(o, 5);
    WindowSampler b(o, 5);
    WindowSampler c(o, 6);
    WindowBatch ba, bb, bc;
    for (int i = 0; i < 3; ++i) {
      a.Sample(64, &ba);
      b.Sample(64, &bb);
      c.Sample(64, &bc);
      EXPECT_EQ(ba.input_ids, bb.input_ids);
      EXPECT_EQ(ba.input_control_ids, bb.input_control_ids);
      EXPECT_EQ(ba.targets, bb.targets);
      EXPECT_EQ(ba.rules, bb.rules);
      EXPECT_NE(ba.input_ids, bc.input_ids);
      EXPECT_NE(ba.targets, bc.targets);
    }
    // Consecutive batches of one sampler differ too.
    WindowBatch next;
    a.Sample(64, &next);
    EXPECT_NE(next.input_ids, ba.input_ids);
  }
}

TEST(WindowDeterminismTest, SaveAndLoadStateResumeExactly) {
  IarcOptions o;
  WindowSampler original(o, 31);
  WindowBatch batch;
  original.Sample(10, &batch);
  original.Sample(7, &batch);
  const std::string state = original.SaveState();
  EXPECT_EQ(state.find(' '), std::string::npos);
  std::vector<WindowBatch> expected(3);
  for (WindowBatch& e : expected) original.Sample(25, &e);

  WindowSampler resumed(o, 999);  // a different seed: the state overrides it
  ASSERT_TRUE(resumed.LoadState(state));
  for (const WindowBatch& e : expected) {
    resumed.Sample(25, &batch);
    EXPECT_EQ(batch.input_ids, e.input_ids);
    EXPECT_EQ(batch.targets, e.targets);
    EXPECT_EQ(batch.rules, e.rules);
  }
  // Batch sizes need not match either: the state advances one draw a window.
  WindowSampler split(o, 999);
  ASSERT_TRUE(split.LoadState(state));
  WindowBatch first, second;
  split.Sample(10, &first);
  split.Sample(15, &second);
  first.input_ids.insert(first.input_ids.end(), second.input_ids.begin(),
                         second.input_ids.end());
  EXPECT_EQ(first.input_ids, expected[0].input_ids);

  EXPECT_FALSE(resumed.LoadState("not a state"));
  EXPECT_FALSE(resumed.LoadState(""));
}

TEST(WindowDeterminismTest, CopiedSamplerContinuesIdentically) {
  IarcOptions o;
  WindowSampler a(o, 8);
  WindowBatch batch;
  a.Sample(3, &batch);
  WindowSampler b = a;
  WindowBatch ba, bb;
  a.Sample(20, &ba);
  b.Sample(20, &bb);
  EXPECT_EQ(ba.input_ids, bb.input_ids);
  EXPECT_EQ(ba.targets, bb.targets);
}

TEST(WindowDeterminismTest, SampleCommandPrintsTheSamplersStreams) {
  IarcOptions o;
  const std::string lines = FormatStreams(o, 7, 4, 30);
  const std::vector<uint64_t> seeds = StreamSeeds(7, 4);
  std::string expected;
  for (uint64_t s : seeds) expected += FormatStream(o, s, 30) + "\n";
  EXPECT_EQ(lines, expected);
}

}  // namespace
}  // namespace switchyard::tasks
