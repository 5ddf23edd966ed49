// The separation tasks (../shared/specs/separations.md, docs/tasks.md): index
// lookup, bounded Dyck-2, nearest neighbour and string equality, after
// Bhattamishra et al., "Separations in the Representational Capabilities of
// Transformers and Recurrent Architectures" (NeurIPS 2024).
//
// Each window is a question with one answer: the model reads the whole input
// and is scored at the last input token only. Chance is 1 / AnswerCount().
//
// Dependency-free like iarc.h: the C++ standard library only, and every random
// draw goes through Rng (rng.h), never through <random>'s distributions, so a
// seed gives the same windows on every platform.
//
// Token ids (all input ids are 0 .. TokenCount()-1; V is Vocab(), n = length):
//   index_lookup      symbols 0..V-1, then index tokens V..V+n-1 (V+p-1 is
//                     position p, printed "@p"); window: x_1..x_n, @p.
//   dyck              0 "(", 1 ")", 2 "[", 3 "]"; window: n brackets.
//   nearest_neighbor  points 0..V-1, then labels V..V+L-1 ("L0".."L{L-1}");
//                     window: n/2 (point, label) pairs, then a query point.
//   string_equality   symbols 0..V-1, then "#" = V; window: a # b, each of
//                     a and b n' = (n-1)/2 symbols.
// Answer ids (0 .. AnswerCount()-1):
//   index_lookup      the symbol x_p (0..V-1)
//   dyck              1 = yes (in the language), 0 = no
//   nearest_neighbor  the label 0..L-1 of the nearest point
//   string_equality   1 = yes (b == a), 0 = no
//
// Thread safety: QuestionSampler is not synchronised; use one per thread. The
// free functions are pure.
#ifndef SWITCHYARD_COMMON_TASKS_SEPARATIONS_H_
#define SWITCHYARD_COMMON_TASKS_SEPARATIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/tasks/rng.h"

namespace switchyard::tasks {

enum class TaskFamily {
  kIndexLookup,
  kDyck,
  kNearestNeighbor,
  kStringEquality
};

// (choice) How dyck negatives are made from a positive string.
enum class DyckNegatives {
  kMixed,  // default: half kFlip, half kSwap
  kFlip,   // flip the type of one bracket: ( <-> [, ) <-> ]
  kSwap,   // swap an opening and a closing bracket
};

// (choice) How many positions b differs in, for string_equality's negatives.
enum class Mismatches {
  kMixed,    // default: m = 1 with probability 1/2, else uniform in 2..n'
  kOne,      // m = 1
  kUniform,  // m uniform in 1..n'
};

// Names as the sweep keys and `switchyard sample` spell them:
// "index_lookup", "dyck", "nearest_neighbor", "string_equality";
// "mixed", "flip", "swap"; "mixed", "one", "uniform". Parse* return false on
// an unknown name, leaving *out unchanged. *Name return "?" for a value that
// is not an enumerator.
bool ParseTaskFamily(std::string_view name, TaskFamily* out);
bool ParseDyckNegatives(std::string_view name, DyckNegatives* out);
bool ParseMismatches(std::string_view name, Mismatches* out);
const char* TaskFamilyName(TaskFamily family);
const char* DyckNegativesName(DyckNegatives negatives);
const char* MismatchesName(Mismatches mismatches);

inline constexpr int kMinLength = 2;
inline constexpr int kMaxLength = 1024;
inline constexpr int kMaxVocab = 1 << 16;  // also the most labels
inline constexpr int kMaxDepth = kMaxLength / 2;

// The options of one task. A family reads only its own options and ignores
// (and does not check) the others, so one grid may cross task with e.g. depth.
struct SeparationOptions {
  TaskFamily family = TaskFamily::kIndexLookup;
  int length = 20;  // input tokens before the question (index, query) or, for
                    // dyck and string_equality, in the whole window
  int vocab = 0;    // index_lookup, nearest_neighbor, string_equality;
                    // 0 = the family's default (DefaultVocab)
  int depth = 2;    // dyck: the most nesting
  int labels = 4;   // nearest_neighbor
  DyckNegatives negatives = DyckNegatives::kMixed;  // dyck
  Mismatches mismatches = Mismatches::kMixed;       // string_equality
};

// Returns "" when the options are valid, otherwise one message that starts
// with the option to change, e.g. "length: 21 is odd; dyck needs an even
// length". Checks, in this order: family is an enumerator ("task: ..."),
// kMinLength <= length <= kMaxLength, then the family's own options:
//   index_lookup      vocab 0 or 2..kMaxVocab
//   dyck              length even; 1 <= depth <= kMaxDepth (a depth above
//                     length/2 acts as length/2); negatives an enumerator
//   nearest_neighbor  length even; vocab 0 or 2..kMaxVocab and
//                     Vocab() >= length/2 (distinct points);
//                     2 <= labels <= kMaxVocab
//   string_equality   length odd (so n' >= 1); vocab 0 or 2..kMaxVocab;
//                     mismatches an enumerator
std::string ValidateOptions(const SeparationOptions& options);

// 64 for index_lookup and nearest_neighbor, 2 for string_equality, 0 for dyck.
int DefaultVocab(TaskFamily family);
// The length a job or `switchyard sample` takes when none is given: 20, or
// 21 for string_equality (whose length must be odd).
int DefaultLength(TaskFamily family);
// The vocab in effect: options.vocab, or DefaultVocab when it is 0.
int Vocab(const SeparationOptions& options);

// The next three require valid options.
// d, the one-hot input width: V+length, 4, V+labels or V+1.
int TokenCount(const SeparationOptions& options);
// Classes the model predicts: V, 2, labels or 2. Chance is 1 / AnswerCount.
int AnswerCount(const SeparationOptions& options);
// Input tokens per window: length+1 (index_lookup, nearest_neighbor) or
// length (dyck, string_equality). The answer is scored at the last one.
int WindowLength(const SeparationOptions& options);

// A batch of windows.
struct QuestionBatch {
  int batch = 0;
  int length = 0;  // WindowLength()
  // [batch, length] row-major, each 0..TokenCount()-1.
  std::vector<int32_t> input_ids;
  // [batch], each 0..AnswerCount()-1: the answer at the window's last token.
  std::vector<int32_t> answers;
};

// Draws windows from one Rng, window after window, so the windows depend only
// on the seed and their number: Sample(a) then Sample(b) gives the same
// windows as Sample(a + b). The whole state is the Rng, so SaveState and
// LoadState make resumption exact.
//
// How each window is drawn, all through the sampler's Rng (a draw is
// Uniform(n) unless it says NextU64):
//   index_lookup      x_1..x_n: Uniform(V) each; then p = 1 + Uniform(n).
//   dyck              the class: Uniform(2) (1 = yes). The depth walk: at each
//                     step that is not forced, up iff NextU64() < T, T the
//                     64-bit fixed-point share of the completions that go up
//                     (counted once per sampler in doubles, scaled by powers
//                     of two; exact to about 2^-53). Types: one bit per
//                     opening bracket, the low bit of a NextU64 word first,
//                     a new word per window and after 64 bits; the closing
//                     bracket takes its pair's type. A negative: the change
//                     (kMixed: Uniform(2), 0 = flip), then for a flip the
//                     position Uniform(n); for a swap an opening bracket
//                     Uniform(n/2) and a closing one Uniform(n/2) (counted
//                     left to right among their kind). A change that leaves
//                     the string in the language is drawn again, of the same
//                     kind (a flip never does; a swap always can be made).
//                     Negatives keep the numbers of openings and closings.
//   nearest_neighbor  for each of the n/2 pairs: the point Uniform(V), drawn
//                     again while it repeats an earlier point, then its label
//                     Uniform(L); then the query Uniform(V), drawn again while
//                     two points are equally near.
//   string_equality   a: Uniform(V) each; the class Uniform(2) (1 = yes); for
//                     no: m (kMixed: Uniform(2) == 0 gives 1, else
//                     2 + Uniform(n'-1), and 1 with no draw when n' = 1;
//                     kUniform: 1 + Uniform(n')), b = a, then m distinct
//                     positions by Floyd's algorithm (Uniform(j+1) for j from
//                     n'-m to n'-1), and at each b's symbol
//                     (a + 1 + Uniform(V-1)) mod V, in increasing j.
class QuestionSampler {
 public:
  // Requires valid options (aborts with ValidateOptions' message otherwise:
  // a caller validates at start-up). Builds the dyck tables here, once:
  // length x (min(depth, length/2)+1) 64-bit words, about 4 MiB at the most.
  QuestionSampler(const SeparationOptions& options, uint64_t seed);

  // Overwrites *out with `batch` new windows (batch <= 0: an empty batch).
  // Reuses *out's memory; allocates nothing once *out is big enough.
  void Sample(int batch, QuestionBatch* out);

  // The Rng's state (rng.h): printable, no spaces. LoadState returns false,
  // changing nothing, when `state` is malformed.
  std::string SaveState() const;
  bool LoadState(const std::string& state);

 private:
  // One window into ids[0 .. WindowLength-1]; returns its answer.
  int32_t IndexLookup(int32_t* ids);
  int32_t Dyck(int32_t* ids);
  int32_t NearestNeighbor(int32_t* ids);
  int32_t StringEquality(int32_t* ids);
  void DyckWalk(int32_t* ids);      // a uniform positive string
  void DyckNegative(int32_t* ids);  // one change that leaves the language

  SeparationOptions options_;
  int vocab_;
  int window_;
  Rng rng_;
  // Built once by the constructor, not state.
  int dyck_depth_ = 0;             // min(depth, length/2)
  std::vector<uint64_t> dyck_up_;  // [position][height]: threshold, see .cc
  // Scratch, not state: its contents never outlive one window.
  std::vector<int32_t> stack_;  // dyck: the open brackets
  std::vector<int32_t> kinds_;  // dyck swaps: the openings, then the closings
  // nearest_neighbor (points) and string_equality (positions): a slot is
  // taken in this window iff it holds stamp_now_.
  std::vector<uint32_t> stamp_;
  uint32_t stamp_now_ = 0;
};

// Whether a bracket string (ids 0..3 as above) is well balanced with nesting
// at most `depth`. The generator's own test of negatives; exported for tests.
bool InDyckLanguage(const int32_t* ids, int length, int depth);

// The spec's printed forms: symbols and points in decimal, "@p", "(" ")" "["
// "]", "L0".., "#"; answers "yes"/"no", a symbol or a label. Require valid
// options; "?" for an id out of range.
std::string TokenText(const SeparationOptions& options, int token_id);
std::string AnswerText(const SeparationOptions& options, int answer);

// Window `row` of *batch as `switchyard sample` prints it: the tokens
// separated by single spaces, then " => " and the answer; no newline.
// Requires 0 <= row < batch.batch.
std::string FormatQuestion(const SeparationOptions& options,
                           const QuestionBatch& batch, int row);

}  // namespace switchyard::tasks

#endif  // SWITCHYARD_COMMON_TASKS_SEPARATIONS_H_
