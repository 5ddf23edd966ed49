// The IARC task-switching generator (../shared/specs/iarc.md, docs/iarc.md).
//
// Dependency-free: the C++ standard library only, so the trainer, the CLI and
// the coordinator can all link it. Deterministic everywhere: every random draw
// goes through Rng (rng.h), whose output is fixed by its definition, never
// through <random>'s distributions.
//
// Thread safety: the classes here are not synchronised; use one per thread.
#ifndef SWITCHYARD_COMMON_TASKS_IARC_H_
#define SWITCHYARD_COMMON_TASKS_IARC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/tasks/rng.h"

namespace switchyard::tasks {

// (choice) How a C token acts on an I task.
enum class CMode {
  kPerToken,  // default: each C raises the increment k once
  kPerStep,   // after a C on an I task, k grows by one with every number
};

// (choice) How windows are encoded for the models. A printed stream always
// shows control tokens as tokens of their own.
enum class Layout {
  kSeparate,  // default: a control token takes a position of its own
  kAttached,  // a control token rides on the number after it (two-hot input)
};

// The rule that produced a target. kNone marks a target that is a control
// token (masked out of loss and accuracy).
enum class Rule : uint8_t { kNone = 0, kI = 1, kA = 2, kR = 3, kC = 4 };

struct IarcOptions {
  std::string tasks = "IARC";  // non-empty subset of IARC in canonical order
  int d = 20;                  // one-hot width; N = d - |tasks| numbers
  int switch_min = 3;          // distance between control tokens, inclusive
  int switch_max = 9;
  int context_length = 24;     // Nc: a window holds Nc + 1 tokens
  int burn_in = -1;            // tokens skipped before a window; -1 = BurnIn()'s safe default
  CMode c_mode = CMode::kPerToken;
  Layout layout = Layout::kSeparate;
  // (choice) The first control token of a stream is drawn from the task set
  // without C. When false and a stream's first control token is C, that C
  // acts on the first task of the set (its first letter), as if the seeds
  // had been written under that task.
  bool first_control_without_c = true;
};

// Returns "" when the options are valid, otherwise one message naming the
// option and what it allows, e.g. "tasks: 'C' must contain one of I, A, R".
// Checks, in this order: tasks (a non-empty subset of IARC in canonical order,
// each letter once, with one of I, A, R), d (N = d - |tasks| >= 2,
// d <= kMaxOptionValue), switch_min >= 2, switch_min <= switch_max <=
// kMaxOptionValue, 1 <= context_length <= kMaxOptionValue, -1 <= burn_in <=
// kMaxOptionValue, c_mode and layout are enumerators.
std::string ValidateOptions(const IarcOptions& options);
inline constexpr int kMaxOptionValue = 1 << 24;

// Parses "per_token"/"per_step" and "separate"/"attached". Return false on an
// unknown name.
bool ParseCMode(const std::string& name, CMode* out);
bool ParseLayout(const std::string& name, Layout* out);
const char* CModeName(CMode mode);
const char* LayoutName(Layout layout);

// N = d - |tasks|: number tokens are 0 .. N-1, control tokens N .. d-1 in
// canonical order I, A, R, C (only those in the task set).
int NumberCount(const IarcOptions& options);

// The tokens skipped before a window. burn_in >= 0 is used as given. -1
// resolves to the smallest count that is at least 2 * switch_max and keeps
// every number drawn by a reverse copy that ran past the start of the stream
// out of the windows: max(2 * switch_max,
// 2 * switch_max - 2 + (switch_max - 4) / (switch_min - 1)) (integer
// division; the second term only for switch_max >= 4). For the defaults
// (3, 9) both are 18; they differ only where switch_min is small against
// switch_max (e.g. 2 and 9 give 21). Requires valid options.
int BurnIn(const IarcOptions& options);

// The token id of control letter `control` ('I', 'A', 'R' or 'C') under these
// options, or -1 when the letter is not in the task set.
int ControlTokenId(const IarcOptions& options, char control);

// One token of a stream as the generator produced it.
struct Token {
  bool is_control = false;
  char control = 0;      // 'I', 'A', 'R' or 'C' when is_control
  int number = 0;        // 0 .. N-1 when !is_control
  Rule rule = Rule::kNone;  // the rule that produced this number (kNone for seeds and controls)
  int id = 0;            // token id in 0 .. d-1
};

// The deterministic rules of the stream (spec, "Rules"), apart from the random
// choices (seeds, control tokens, spacing). StreamGenerator drives one; tests
// drive one by hand to replay the spec's worked examples.
//
// Rules, all mod N, x the last number and x' the one before:
//   I: x + k. An I control sets k = 1.
//   C on I: k += 1 (rule kC from then on, since k > 1). In kPerStep mode the
//      C also starts growth: after every later number of that task, k += 1.
//   A (and C on A): x + x'.
//   R (and C on R): reverse copy of the numbers so far, the ones written by
//      an earlier copy included; past the first number, Uniform(N) from rng.
// Before any I, A or R control the current task is `first_task`.
//
// The engine keeps every number of its stream (4 bytes each); Seed() empties
// that history but keeps its memory, so one engine serves many streams
// without allocating.
class RuleEngine {
 public:
  // Requires number_count = N >= 2 and first_task one of 'I', 'A', 'R'.
  RuleEngine(int number_count, CMode c_mode, char first_task);

  // Starts a new stream whose first two numbers are the seeds a, b in 0..N-1.
  void Seed(int a, int b);

  // Applies control token 'I', 'A', 'R' or 'C'; any other char is ignored.
  void Control(char control);

  // The next number under the current task: a Token with is_control false,
  // id == number, and rule kI, kA, kR or kC. Draws one rng->Uniform(N) exactly
  // when a reverse copy reaches before the first number (rng must then be
  // non-null), and nothing otherwise. Requires a prior Seed().
  Token NextNumber(Rng* rng);

  // How many numbers the stream holds so far, seeds included.
  int numbers_so_far() const { return static_cast<int>(history_.size()); }

 private:
  int n_;
  CMode c_mode_;
  char first_task_;
  char task_;                 // 'I', 'A' or 'R'
  int k_ = 1;                 // I increment, kept reduced mod N
  bool k_raised_ = false;     // true k > 1 (k_ alone may wrap mod N)
  bool k_growing_ = false;    // kPerStep after a C on an I task
  long long reverse_next_ = -1;  // history_ index the reverse copy reads next
  std::vector<int> history_;  // every number so far
};

// Generates one stream from its start. Requires valid options (aborts with
// ValidateOptions' message otherwise: a caller validates at start-up).
//
// Random draws, in this order, all through *rng:
//   1. on the first Next(): seed a = Uniform(N), then seed b = Uniform(N);
//   2. at each control token: its letter, Uniform(|tasks|) as an index into
//      the task set (Uniform(|tasks| - 1) for the first control when
//      first_control_without_c and C is in the set: C is last in canonical
//      order), then the distance D = switch_min + Uniform(switch_max -
//      switch_min + 1); D - 1 numbers follow before the next control token;
//   3. a number draws only where a reverse copy runs past the stream's start.
// The first control token comes right after the two seeds.
class StreamGenerator {
 public:
  // *rng must outlive the generator's use; it is advanced by Next().
  StreamGenerator(const IarcOptions& options, Rng* rng);

  // The next token of the stream.
  Token Next();

  // Starts a new stream drawing from *rng, keeping allocated memory.
  void Reset(Rng* rng);

 private:
  Rng* rng_;
  int n_;
  int switch_min_;
  int switch_span_;                // switch_max - switch_min + 1
  bool first_without_c_;
  int letter_count_;
  char letters_[4] = {};           // the task set in canonical order
  RuleEngine engine_;
  long long produced_ = 0;         // tokens returned so far
  int second_seed_ = 0;
  int until_control_ = 0;          // numbers left before the next control
};

// Formats the first `length` tokens of the stream with this seed as the
// `switchyard sample` command prints them: numbers in decimal, control tokens
// as letters, separated by one space; no trailing space or newline. The
// stream is StreamGenerator(options, &rng) with Rng rng(seed). Requires valid
// options; "" for length <= 0.
std::string FormatStream(const IarcOptions& options, uint64_t seed, int length);

// `count` streams, one per line, each line ending in '\n': line i is
// FormatStream(options, s_i, length), where s_i is the (i+1)-th output of
// Rng(seed).NextU64(). These are exactly the streams a fresh
// WindowSampler(options, seed) cuts its first `count` windows from.
std::string FormatStreams(const IarcOptions& options, uint64_t seed, int count,
                          int length);

// A batch of windows, flattened row-major as [batch][context_length].
struct WindowBatch {
  int batch = 0;
  int length = 0;                  // context_length
  std::vector<int32_t> input_ids;  // token id at each input position
  // Layout kAttached only: the control token id carried by that position's
  // number, or -1; empty for kSeparate.
  std::vector<int32_t> input_control_ids;
  std::vector<int32_t> targets;    // number 0..N-1, or -1 where the target is a control token
  std::vector<Rule> rules;         // rule per target (kNone where masked)
};

// Draws windows: each window is cut from a fresh stream after the burn-in.
// The whole state is the Rng, so SaveState/LoadState make resumption exact.
//
// Window w (counting from construction or the last LoadState) is cut from the
// stream StreamGenerator(options, &r) with Rng r(rng.NextU64()), the sampler's
// rng drawing one seed per window and nothing else:
//   kSeparate: tokens BurnIn+1 .. BurnIn+Nc+1 of that stream (1-based);
//     inputs are the first Nc, targets the last Nc; a target that is a control
//     token is -1 with rule kNone.
//   kAttached: the first Nc+1 numbers after the first BurnIn tokens; each
//     number carries the control token right before it, if any (for the first
//     number that control may lie inside the burn-in), in input_control_ids.
//     Every target is a number.
// With burn_in < 2 a window may hold the second seed as a target: a number
// with rule kNone.
class WindowSampler {
 public:
  // Requires valid options (aborts with ValidateOptions' message otherwise).
  WindowSampler(const IarcOptions& options, uint64_t seed);
  // Appends nothing; overwrites *out with `batch` new windows (batch <= 0:
  // an empty batch). Reuses *out's memory.
  void Sample(int batch, WindowBatch* out);
  std::string SaveState() const;              // printable, no spaces
  bool LoadState(const std::string& state);   // false if malformed

 private:
  IarcOptions options_;
  Rng rng_;
  // Scratch for Sample(), not state: rebuilt for every window.
  int burn_in_;
  Rng stream_rng_{0};
  StreamGenerator stream_;
};

}  // namespace switchyard::tasks

#endif  // SWITCHYARD_COMMON_TASKS_IARC_H_
