// The separation tasks (common/tasks/separations.h): every rule of the spec
// checked on 10,000 windows per family against answers recomputed here, the
// class balance, unambiguous windows, dyck's uniform positives, fixed output
// for a fixed seed, exact resumption and the refused options.
#include "common/tasks/separations.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace switchyard::tasks {
namespace {

constexpr int kWindows = 10'000;

SeparationOptions Options(TaskFamily family, int length) {
  SeparationOptions o;
  o.family = family;
  o.length = length;
  return o;
}

QuestionBatch Draw(const SeparationOptions& o, uint64_t seed,
                   int count = kWindows) {
  QuestionSampler sampler(o, seed);
  QuestionBatch batch;
  sampler.Sample(count, &batch);
  return batch;
}

const int32_t* Row(const QuestionBatch& b, int w) {
  return b.input_ids.data() + static_cast<size_t>(w) * b.length;
}

// Dyck membership written again, independently of InDyckLanguage.
bool Balanced(const int32_t* ids, int n, int depth) {
  std::string open;
  for (int i = 0; i < n; ++i) {
    const char c = "([)]"[ids[i] == 0   ? 0
                          : ids[i] == 2 ? 1
                          : ids[i] == 1 ? 2
                                        : 3];
    if (c == '(' || c == '[') {
      open += c;
      if (static_cast<int>(open.size()) > depth) return false;
    } else {
      if (open.empty() || open.back() != (c == ')' ? '(' : '[')) return false;
      open.pop_back();
    }
  }
  return open.empty();
}

// Whether the opening/closing pattern alone is a walk 0 -> 0 within 0..depth.
bool SkeletonValid(const int32_t* ids, int n, int depth) {
  int h = 0;
  for (int i = 0; i < n; ++i) {
    h += (ids[i] % 2 == 0) ? 1 : -1;
    if (h < 0 || h > depth) return false;
  }
  return h == 0;
}

void ExpectShare(long part, long whole, double share, double tolerance,
                 const std::string& what) {
  ASSERT_GT(whole, 0) << what;
  EXPECT_NEAR(static_cast<double>(part) / whole, share, tolerance) << what;
}

TEST(SeparationNamesTest, ParseAndNameRoundTrip) {
  for (TaskFamily f :
       {TaskFamily::kIndexLookup, TaskFamily::kDyck,
        TaskFamily::kNearestNeighbor, TaskFamily::kStringEquality}) {
    TaskFamily parsed = TaskFamily::kDyck;
    ASSERT_TRUE(ParseTaskFamily(TaskFamilyName(f), &parsed));
    EXPECT_EQ(parsed, f);
  }
  EXPECT_STREQ(TaskFamilyName(TaskFamily::kNearestNeighbor),
               "nearest_neighbor");
  TaskFamily f = TaskFamily::kDyck;
  EXPECT_FALSE(ParseTaskFamily("iarc", &f));
  EXPECT_FALSE(ParseTaskFamily("Dyck", &f));
  EXPECT_EQ(f, TaskFamily::kDyck);
  DyckNegatives n = DyckNegatives::kMixed;
  EXPECT_TRUE(ParseDyckNegatives("swap", &n));
  EXPECT_EQ(n, DyckNegatives::kSwap);
  EXPECT_STREQ(DyckNegativesName(DyckNegatives::kFlip), "flip");
  EXPECT_FALSE(ParseDyckNegatives("both", &n));
  Mismatches m = Mismatches::kMixed;
  EXPECT_TRUE(ParseMismatches("uniform", &m));
  EXPECT_EQ(m, Mismatches::kUniform);
  EXPECT_STREQ(MismatchesName(Mismatches::kOne), "one");
  EXPECT_FALSE(ParseMismatches("two", &m));
}

TEST(SeparationShapeTest, CountsAndLayouts) {
  struct Case {
    TaskFamily family;
    int length, vocab;
    int tokens, answers, window;
    std::vector<std::pair<int, std::string>> token_texts, answer_texts;
  };
  const Case cases[] = {
      {TaskFamily::kIndexLookup,
       20,
       0,
       84,
       64,
       21,
       {{12, "12"}, {63, "63"}, {64, "@1"}, {83, "@20"}, {84, "?"}, {-1, "?"}},
       {{17, "17"}, {64, "?"}}},
      {TaskFamily::kDyck,
       20,
       0,
       4,
       2,
       20,
       {{0, "("}, {1, ")"}, {2, "["}, {3, "]"}, {4, "?"}},
       {{1, "yes"}, {0, "no"}, {2, "?"}}},
      {TaskFamily::kNearestNeighbor,
       20,
       0,
       68,
       4,
       21,
       {{63, "63"}, {64, "L0"}, {67, "L3"}, {68, "?"}},
       {{0, "L0"}, {3, "L3"}, {4, "?"}}},
      {TaskFamily::kStringEquality,
       21,
       0,
       3,
       2,
       21,
       {{0, "0"}, {1, "1"}, {2, "#"}, {3, "?"}},
       {{1, "yes"}, {0, "no"}}},
      {TaskFamily::kStringEquality,
       21,
       10,
       11,
       2,
       21,
       {{9, "9"}, {10, "#"}},
       {}},
  };
  for (const Case& c : cases) {
    SeparationOptions o = Options(c.family, c.length);
    o.vocab = c.vocab;
    const std::string what = TaskFamilyName(c.family);
    EXPECT_EQ(TokenCount(o), c.tokens) << what;
    EXPECT_EQ(AnswerCount(o), c.answers) << what;
    EXPECT_EQ(WindowLength(o), c.window) << what;
    for (const auto& [id, text] : c.token_texts) {
      EXPECT_EQ(TokenText(o, id), text) << what << " token " << id;
    }
    for (const auto& [id, text] : c.answer_texts) {
      EXPECT_EQ(AnswerText(o, id), text) << what << " answer " << id;
    }
  }
  EXPECT_EQ(Vocab(Options(TaskFamily::kIndexLookup, 20)), 64);
  EXPECT_EQ(Vocab(Options(TaskFamily::kNearestNeighbor, 20)), 64);
  EXPECT_EQ(Vocab(Options(TaskFamily::kStringEquality, 21)), 2);
}

TEST(SeparationShapeTest, SampleOverwritesAndReusesTheBatch) {
  QuestionSampler sampler(Options(TaskFamily::kDyck, 8), 1);
  QuestionBatch batch;
  sampler.Sample(10, &batch);
  EXPECT_EQ(batch.batch, 10);
  EXPECT_EQ(batch.length, 8);
  EXPECT_EQ(batch.input_ids.size(), 80u);
  EXPECT_EQ(batch.answers.size(), 10u);
  sampler.Sample(3, &batch);
  EXPECT_EQ(batch.input_ids.size(), 24u);
  sampler.Sample(-1, &batch);
  EXPECT_EQ(batch.batch, 0);
  EXPECT_TRUE(batch.input_ids.empty());
  EXPECT_TRUE(batch.answers.empty());
}

TEST(IndexLookupTest, AnswerIsTheSymbolAtTheIndex) {
  for (int length : {2, 20, 100}) {
    SeparationOptions o = Options(TaskFamily::kIndexLookup, length);
    o.vocab = length == 2 ? 2 : 0;
    const int v = Vocab(o);
    QuestionBatch b = Draw(o, 11);
    std::vector<long> answers(v), positions(length);
    for (int w = 0; w < kWindows; ++w) {
      const int32_t* ids = Row(b, w);
      for (int i = 0; i < length; ++i) {
        ASSERT_GE(ids[i], 0);
        ASSERT_LT(ids[i], v);
      }
      const int p = ids[length] - v;  // 0-based
      ASSERT_GE(p, 0);
      ASSERT_LT(p, length);
      ASSERT_EQ(b.answers[w], ids[p]) << "window " << w;
      ++answers[b.answers[w]];
      ++positions[p];
    }
    // Uniform answers and positions: each within a third of its mean.
    for (long c : answers) EXPECT_NEAR(c, kWindows / v, kWindows / v / 3.0 + 5);
    for (long c : positions)
      EXPECT_NEAR(c, kWindows / length, kWindows / length / 3.0 + 5);
  }
}

TEST(DyckTest, AnswersAreRightClassesBalancedNegativesKeepCounts) {
  for (int depth : {1, 2, 4}) {
    for (int length : {2, 20, 100}) {
      SeparationOptions o = Options(TaskFamily::kDyck, length);
      o.depth = depth;
      QuestionBatch b = Draw(o, 100 + depth);
      long yes = 0, flips = 0, swaps = 0;
      for (int w = 0; w < kWindows; ++w) {
        const int32_t* ids = Row(b, w);
        int count[4] = {};
        for (int i = 0; i < length; ++i) {
          ASSERT_GE(ids[i], 0);
          ASSERT_LT(ids[i], 4);
          ++count[ids[i]];
        }
        const bool in = Balanced(ids, length, depth);
        ASSERT_EQ(b.answers[w], in ? 1 : 0) << "window " << w;
        ASSERT_EQ(InDyckLanguage(ids, length, depth), in);
        // Counting alone must not solve it: openings and closings balance.
        ASSERT_EQ(count[0] + count[2], count[1] + count[3]);
        if (in) {
          ++yes;
        } else if (count[0] == count[1]) {
          ++swaps;  // a swap keeps every type's count
        } else {
          ++flips;  // a flip moves one bracket to the other type
          ASSERT_EQ(std::abs(count[0] - count[1]), 1);
          ASSERT_TRUE(SkeletonValid(ids, length, depth));
        }
      }
      const std::string what = "length " + std::to_string(length) + " depth " +
                               std::to_string(depth);
      ExpectShare(yes, kWindows, 0.5, 0.01, what);
      ExpectShare(flips, flips + swaps, 0.5, 0.03,
                  what + " flips among negatives");
    }
  }
}

TEST(DyckTest, NegativesFollowTheirOption) {
  for (DyckNegatives kind : {DyckNegatives::kFlip, DyckNegatives::kSwap}) {
    SeparationOptions o = Options(TaskFamily::kDyck, 20);
    o.negatives = kind;
    QuestionBatch b = Draw(o, 5);
    for (int w = 0; w < kWindows; ++w) {
      if (b.answers[w] == 1) continue;
      const int32_t* ids = Row(b, w);
      ASSERT_FALSE(Balanced(ids, 20, 2));
      int count[4] = {};
      for (int i = 0; i < 20; ++i) ++count[ids[i]];
      if (kind == DyckNegatives::kFlip) {
        ASSERT_EQ(std::abs(count[0] - count[1]), 1);
        ASSERT_TRUE(SkeletonValid(ids, 20, 2));
      } else {
        ASSERT_EQ(count[0], count[1]);
        ASSERT_EQ(count[2], count[3]);
      }
    }
  }
}

// Every balanced string of length 6 and depth <= 2 (4 walks x 8 typings = 32)
// is equally likely among the positives; likewise the 8-bracket strings of
// depth <= 3 (13 walks x 16 typings = 208).
TEST(DyckTest, PositivesAreUniform) {
  struct Case {
    int length, depth, strings;
  };
  for (const Case& c : {Case{6, 2, 32}, Case{8, 3, 208}}) {
    SeparationOptions o = Options(TaskFamily::kDyck, c.length);
    o.depth = c.depth;
    QuestionBatch b = Draw(o, 77, 200 * c.strings * 2);
    std::map<std::string, long> seen;
    long positives = 0;
    for (int w = 0; w < b.batch; ++w) {
      if (b.answers[w] != 1) continue;
      ++positives;
      ++seen[std::string(Row(b, w), Row(b, w) + c.length)];
    }
    ASSERT_EQ(static_cast<int>(seen.size()), c.strings);
    const double mean = static_cast<double>(positives) / c.strings;
    for (const auto& [s, n] : seen)
      EXPECT_NEAR(n, mean, mean * 0.3) << "length " << c.length;
    // The squared deviations, summed (chi-square with strings - 1 degrees of
    // freedom), stay well under a 1-in-10^4 bound.
    double chi2 = 0;
    for (const auto& [s, n] : seen) chi2 += (n - mean) * (n - mean) / mean;
    EXPECT_LT(chi2, c.strings + 6 * std::sqrt(2.0 * c.strings))
        << "length " << c.length;
  }
}

TEST(DyckTest, LongStringsAndDeepBoundsStayInTheLanguage) {
  for (int depth : {2, 37, 512}) {
    SeparationOptions o = Options(TaskFamily::kDyck, 1024);
    o.depth = depth;
    QuestionBatch b = Draw(o, 9, 200);
    for (int w = 0; w < b.batch; ++w) {
      ASSERT_EQ(b.answers[w], Balanced(Row(b, w), 1024, depth) ? 1 : 0);
    }
  }
}

TEST(NearestNeighborTest, DistinctPointsNoTiesRightLabel) {
  struct Case {
    int length, vocab, labels;
  };
  for (const Case& c :
       {Case{20, 0, 4}, Case{100, 64, 10}, Case{20, 10, 2}, Case{2, 2, 3}}) {
    SeparationOptions o = Options(TaskFamily::kNearestNeighbor, c.length);
    o.vocab = c.vocab;
    o.labels = c.labels;
    const int v = Vocab(o), k = c.length / 2;
    QuestionBatch b = Draw(o, 3);
    std::vector<long> answers(c.labels);
    for (int w = 0; w < kWindows; ++w) {
      const int32_t* ids = Row(b, w);
      std::vector<bool> used(v);
      for (int j = 0; j < k; ++j) {
        ASSERT_GE(ids[2 * j], 0);
        ASSERT_LT(ids[2 * j], v);
        ASSERT_FALSE(used[ids[2 * j]]) << "window " << w << " repeats a point";
        used[ids[2 * j]] = true;
        ASSERT_GE(ids[2 * j + 1], v);
        ASSERT_LT(ids[2 * j + 1], v + c.labels);
      }
      const int query = ids[2 * k];
      ASSERT_GE(query, 0);
      ASSERT_LT(query, v);
      // Nearest by looking outwards from the query: at the first distance
      // holding a point, exactly one point.
      int found = -1;
      for (int d = 0; found < 0; ++d) {
        const bool below = query - d >= 0 && used[query - d];
        const bool above = d > 0 && query + d < v && used[query + d];
        ASSERT_FALSE(below && above) << "window " << w << " ties";
        if (below) found = query - d;
        if (above) found = query + d;
      }
      for (int j = 0; j < k; ++j) {
        if (ids[2 * j] == found)
          ASSERT_EQ(b.answers[w], ids[2 * j + 1] - v) << "window " << w;
      }
      ++answers[b.answers[w]];
    }
    for (long n : answers)
      ExpectShare(n, kWindows, 1.0 / c.labels, 0.03, "label share");
  }
}

TEST(StringEqualityTest, AnswersClassesAndMismatches) {
  for (int length : {3, 21, 101}) {
    for (int vocab : {0, 5}) {
      SeparationOptions o = Options(TaskFamily::kStringEquality, length);
      o.vocab = vocab;
      const int v = Vocab(o), n = (length - 1) / 2;
      QuestionBatch b = Draw(o, 21);
      long yes = 0, one = 0, no = 0;
      std::vector<long> by_m(n + 1);
      for (int w = 0; w < kWindows; ++w) {
        const int32_t* ids = Row(b, w);
        ASSERT_EQ(ids[n], v) << "the separator";
        int differ = 0;
        for (int i = 0; i < n; ++i) {
          ASSERT_GE(ids[i], 0);
          ASSERT_LT(ids[i], v);
          ASSERT_GE(ids[n + 1 + i], 0);
          ASSERT_LT(ids[n + 1 + i], v);
          differ += ids[i] != ids[n + 1 + i];
        }
        ASSERT_EQ(b.answers[w], differ == 0 ? 1 : 0) << "window " << w;
        if (differ == 0) {
          ++yes;
        } else {
          ++no;
          one += differ == 1;
          ++by_m[differ];
        }
      }
      const std::string what = "length " + std::to_string(length);
      ExpectShare(yes, kWindows, 0.5, 0.01, what);
      // m = 1 for half the negatives (all of them when n = 1), else uniform
      // in 2..n.
      ExpectShare(one, no, n == 1 ? 1.0 : 0.5, 0.03, what + " one difference");
      for (int m = 2; m <= n; ++m) {
        ExpectShare(by_m[m], no, 0.5 / (n - 1), 0.03,
                    what + " m=" + std::to_string(m));
      }
    }
  }
}

TEST(StringEqualityTest, MismatchOptions) {
  SeparationOptions o = Options(TaskFamily::kStringEquality, 11);  // n = 5
  o.mismatches = Mismatches::kOne;
  QuestionBatch b = Draw(o, 4);
  for (int w = 0; w < kWindows; ++w) {
    int differ = 0;
    for (int i = 0; i < 5; ++i) differ += Row(b, w)[i] != Row(b, w)[6 + i];
    ASSERT_EQ(differ, b.answers[w] == 1 ? 0 : 1);
  }
  o.mismatches = Mismatches::kUniform;
  b = Draw(o, 4);
  std::vector<long> by_m(6);
  long no = 0;
  for (int w = 0; w < kWindows; ++w) {
    if (b.answers[w] == 1) continue;
    int differ = 0;
    for (int i = 0; i < 5; ++i) differ += Row(b, w)[i] != Row(b, w)[6 + i];
    ++by_m[differ];
    ++no;
  }
  for (int m = 1; m <= 5; ++m) ExpectShare(by_m[m], no, 0.2, 0.03, "uniform m");
}

// FNV-1a over a batch's ids and answers.
uint64_t Hash(const QuestionBatch& b) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](int32_t x) {
    for (int i = 0; i < 4; ++i) {
      h ^= static_cast<uint8_t>(x >> (8 * i));
      h *= 1099511628211ull;
    }
  };
  for (int32_t x : b.input_ids) mix(x);
  for (int32_t x : b.answers) mix(x);
  return h;
}

TEST(SeparationDeterminismTest, FixedSeedFixedOutput) {
  struct Golden {
    TaskFamily family;
    int length;
    const char* first;
    uint64_t hash;  // of the first 1000 windows
  };
  const Golden goldens[] = {
      {TaskFamily::kIndexLookup, 6, "36 18 52 57 51 50 @6 => 50",
       2846097333504671504ull},
      {TaskFamily::kDyck, 6, "( ) ( ) ( ) => yes", 11685123815389321010ull},
      {TaskFamily::kNearestNeighbor, 6, "36 L1 52 L3 51 L3 53 => L3",
       14948539773008365540ull},
      {TaskFamily::kStringEquality, 7, "1 0 1 # 1 0 1 => yes",
       7652453704897808307ull},
  };
  for (const Golden& g : goldens) {
    SeparationOptions o = Options(g.family, g.length);
    QuestionBatch b = Draw(o, 2026, 1000);
    EXPECT_EQ(FormatQuestion(o, b, 0), g.first) << TaskFamilyName(g.family);
    EXPECT_EQ(Hash(b), g.hash) << TaskFamilyName(g.family);
    EXPECT_EQ(Hash(Draw(o, 2026, 1000)), Hash(b));
    EXPECT_NE(Hash(Draw(o, 2027, 1000)), Hash(b));
  }
}

TEST(SeparationDeterminismTest, BatchesSplitAnywhereAndStateResumes) {
  for (TaskFamily f :
       {TaskFamily::kIndexLookup, TaskFamily::kDyck,
        TaskFamily::kNearestNeighbor, TaskFamily::kStringEquality}) {
    const SeparationOptions o =
        Options(f, f == TaskFamily::kStringEquality ? 21 : 20);
    const QuestionBatch whole = Draw(o, 8, 300);

    QuestionSampler split(o, 8);
    QuestionBatch part;
    std::vector<int32_t> ids, answers;
    for (int size : {1, 99, 0, 200}) {
      split.Sample(size, &part);
      ids.insert(ids.end(), part.input_ids.begin(), part.input_ids.end());
      answers.insert(answers.end(), part.answers.begin(), part.answers.end());
    }
    EXPECT_EQ(ids, whole.input_ids) << TaskFamilyName(f);
    EXPECT_EQ(answers, whole.answers) << TaskFamilyName(f);

    QuestionSampler first(o, 8);
    first.Sample(100, &part);
    const std::string state = first.SaveState();
    EXPECT_EQ(state.find(' '), std::string::npos);
    QuestionSampler resumed(o, 12345);
    ASSERT_TRUE(resumed.LoadState(state));
    resumed.Sample(200, &part);
    EXPECT_EQ(std::vector<int32_t>(part.input_ids),
              std::vector<int32_t>(whole.input_ids.begin() + 100 * whole.length,
                                   whole.input_ids.end()))
        << TaskFamilyName(f);
    const std::string before = resumed.SaveState();
    EXPECT_FALSE(resumed.LoadState("not a state"));
    EXPECT_EQ(resumed.SaveState(), before);
  }
}

// Over a grid of small options, ValidateOptions either refuses or accepts
// options the sampler serves: it ends, and every id and answer is in range.
TEST(SeparationValidateTest, EveryAcceptedSmallOptionSamples) {
  int accepted = 0;
  for (TaskFamily f :
       {TaskFamily::kIndexLookup, TaskFamily::kDyck,
        TaskFamily::kNearestNeighbor, TaskFamily::kStringEquality}) {
    for (int length = -1; length <= 13; ++length) {
      for (int vocab = -1; vocab <= 8; ++vocab) {
        for (int small = -1; small <= 4; ++small) {  // depth and labels
          SeparationOptions o = Options(f, length);
          o.vocab = vocab;
          o.depth = small;
          o.labels = small;
          if (!ValidateOptions(o).empty()) continue;
          ++accepted;
          QuestionBatch b = Draw(o, 1, 50);
          ASSERT_EQ(b.length, WindowLength(o));
          for (int32_t id : b.input_ids) {
            ASSERT_GE(id, 0);
            ASSERT_LT(id, TokenCount(o));
          }
          for (int32_t answer : b.answers) {
            ASSERT_GE(answer, 0);
            ASSERT_LT(answer, AnswerCount(o));
          }
        }
      }
    }
  }
  EXPECT_GT(accepted, 1000);
}

TEST(SeparationValidateTest, DefaultsAreValid) {
  for (TaskFamily f : {TaskFamily::kIndexLookup, TaskFamily::kDyck,
                       TaskFamily::kNearestNeighbor}) {
    EXPECT_EQ(ValidateOptions(Options(f, 20)), "") << TaskFamilyName(f);
  }
  EXPECT_EQ(ValidateOptions(Options(TaskFamily::kStringEquality, 21)), "");
  // A family ignores the options of the others.
  SeparationOptions o = Options(TaskFamily::kIndexLookup, 20);
  o.depth = 0;
  o.labels = -1;
  EXPECT_EQ(ValidateOptions(o), "");
  o = Options(TaskFamily::kDyck, 1024);
  o.vocab = -3;
  o.depth = kMaxDepth;
  EXPECT_EQ(ValidateOptions(o), "");
}

TEST(SeparationValidateTest, RefusesImpossibleOptionsNamingTheKey) {
  struct Case {
    SeparationOptions options;
    std::string message;
  };
  auto with = [](TaskFamily f, int length, auto change) {
    SeparationOptions o = Options(f, length);
    change(o);
    return o;
  };
  auto none = [](SeparationOptions&) {};
  const TaskFamily kIndex = TaskFamily::kIndexLookup, kDyck = TaskFamily::kDyck,
                   kNearest = TaskFamily::kNearestNeighbor,
                   kEqual = TaskFamily::kStringEquality;
  const Case cases[] = {
      {with(
           kIndex, 20,
           [](SeparationOptions& o) { o.family = static_cast<TaskFamily>(9); }),
       "task: 9 is not a task"},
      {with(kIndex, 1, none), "length: 1 is out of range [2, 1024]"},
      {with(kIndex, 1025, none), "length: 1025 is out of range [2, 1024]"},
      {with(kDyck, 0, none), "length: 0 is out of range [2, 1024]"},
      {with(kIndex, 20, [](SeparationOptions& o) { o.vocab = 1; }),
       "vocab: 1 is out of range [2, 65536] (0 = the default, 64)"},
      {with(kIndex, 20, [](SeparationOptions& o) { o.vocab = -2; }),
       "vocab: -2 is out of range"},
      {with(kIndex, 20, [](SeparationOptions& o) { o.vocab = kMaxVocab + 1; }),
       "vocab: 65537 is out of range"},
      {with(kDyck, 21, none), "length: 21 is odd; dyck needs an even length"},
      {with(kDyck, 20, [](SeparationOptions& o) { o.depth = 0; }),
       "depth: 0 is out of range [1, 512]"},
      {with(kDyck, 20, [](SeparationOptions& o) { o.depth = 513; }),
       "depth: 513 is out of range [1, 512]"},
      {with(kDyck, 20,
            [](SeparationOptions& o) {
              o.negatives = static_cast<DyckNegatives>(7);
            }),
       "negatives: 7 is not a choice; expected mixed, flip or swap"},
      {with(kNearest, 21, none),
       "length: 21 is odd; nearest_neighbor needs an even length"},
      {with(kNearest, 200, none),
       "vocab: 64 is too small; nearest_neighbor needs vocab >= length/2 = 100 "
       "distinct points"},
      {with(kNearest, 20, [](SeparationOptions& o) { o.vocab = 9; }),
       "vocab: 9 is too small; nearest_neighbor needs vocab >= length/2 = 10"},
      {with(kNearest, 20, [](SeparationOptions& o) { o.vocab = 1; }),
       "vocab: 1 is out of range"},
      {with(kNearest, 20, [](SeparationOptions& o) { o.labels = 1; }),
       "labels: 1 is out of range [2, 65536]"},
      {with(kEqual, 20, none),
       "length: 20 is even; string_equality needs an odd length"},
      {with(kEqual, 2, none),
       "length: 2 is even; string_equality needs an odd length"},
      {with(kEqual, 21, [](SeparationOptions& o) { o.vocab = 1; }),
       "vocab: 1 is out of range [2, 65536] (0 = the default, 2)"},
      {with(kEqual, 21,
            [](SeparationOptions& o) {
              o.mismatches = static_cast<Mismatches>(5);
            }),
       "mismatches: 5 is not a choice"},
  };
  for (const Case& c : cases) {
    const std::string error = ValidateOptions(c.options);
    EXPECT_EQ(error.rfind(c.message, 0), 0u)
        << "got '" << error << "', want '" << c.message << "'";
  }
  // Edges that are allowed.
  EXPECT_EQ(ValidateOptions(
                with(kNearest, 20, [](SeparationOptions& o) { o.vocab = 10; })),
            "");
  EXPECT_EQ(ValidateOptions(with(kEqual, 3, none)), "");
  EXPECT_EQ(ValidateOptions(
                with(kDyck, 2, [](SeparationOptions& o) { o.depth = 100; })),
            "");
}

}  // namespace
}  // namespace switchyard::tasks
