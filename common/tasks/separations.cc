#include "common/tasks/separations.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

namespace switchyard::tasks {
namespace {

// dyck_up_ entries: the walk goes up iff NextU64() < T, except for these two,
// which are forced steps and draw nothing.
constexpr uint64_t kAlwaysDown = 0;
constexpr uint64_t kAlwaysUp = std::numeric_limits<uint64_t>::max();

// The names of an enum's enumerators, in one table per enum.
template <typename Enum>
struct Named {
  Enum value;
  const char* name;
};
constexpr Named<TaskFamily> kFamilies[] = {
    {TaskFamily::kIndexLookup, "index_lookup"},
    {TaskFamily::kDyck, "dyck"},
    {TaskFamily::kNearestNeighbor, "nearest_neighbor"},
    {TaskFamily::kStringEquality, "string_equality"}};
constexpr Named<DyckNegatives> kNegatives[] = {{DyckNegatives::kMixed, "mixed"},
                                               {DyckNegatives::kFlip, "flip"},
                                               {DyckNegatives::kSwap, "swap"}};
constexpr Named<Mismatches> kMismatches[] = {{Mismatches::kMixed, "mixed"},
                                             {Mismatches::kOne, "one"},
                                             {Mismatches::kUniform, "uniform"}};

template <typename Enum, size_t N>
const char* NameIn(const Named<Enum> (&table)[N], Enum value) {
  for (const Named<Enum>& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

template <typename Enum, size_t N>
bool ParseIn(const Named<Enum> (&table)[N], std::string_view name, Enum* out) {
  for (const Named<Enum>& entry : table) {
    if (name == entry.name) {
      *out = entry.value;
      return true;
    }
  }
  return false;
}

template <typename Enum, size_t N>
bool IsEnumerator(Enum value, const Named<Enum> (&table)[N]) {
  return NameIn(table, value)[0] != '?';
}

std::string Str(long long v) { return std::to_string(v); }

std::string OutOfRange(const char* key, long long value, long long lo,
                       long long hi) {
  return std::string(key) + ": " + Str(value) + " is out of range [" + Str(lo) +
         ", " + Str(hi) + "]";
}

// vocab 0 (the default) or 2..kMaxVocab.
std::string CheckVocab(const SeparationOptions& o) {
  if (o.vocab == 0 || (o.vocab >= 2 && o.vocab <= kMaxVocab)) return "";
  return OutOfRange("vocab", o.vocab, 2, kMaxVocab) + " (0 = the default, " +
         Str(DefaultVocab(o.family)) + ")";
}

// The message for a length of the wrong parity: `even` is the one needed.
std::string WrongParity(const SeparationOptions& o, bool even,
                        const char* why) {
  return "length: " + Str(o.length) + (even ? " is odd; " : " is even; ") +
         TaskFamilyName(o.family) +
         (even ? " needs an even length (" : " needs an odd length (") + why +
         ")";
}

// The stack check of Dyck membership, with the caller's scratch of at least
// min(depth, length) entries.
bool InLanguage(const int32_t* ids, int length, int depth, int32_t* stack) {
  int height = 0;
  for (int i = 0; i < length; ++i) {
    const int32_t id = ids[i];
    if (id == 0 || id == 2) {
      if (height == depth) return false;
      stack[height++] = id;
    } else {
      if (height == 0 || stack[height - 1] != id - 1) return false;
      --height;
    }
  }
  return height == 0;
}

}  // namespace

const char* TaskFamilyName(TaskFamily family) {
  return NameIn(kFamilies, family);
}
const char* DyckNegativesName(DyckNegatives negatives) {
  return NameIn(kNegatives, negatives);
}
const char* MismatchesName(Mismatches mismatches) {
  return NameIn(kMismatches, mismatches);
}
bool ParseTaskFamily(std::string_view name, TaskFamily* out) {
  return ParseIn(kFamilies, name, out);
}
bool ParseDyckNegatives(std::string_view name, DyckNegatives* out) {
  return ParseIn(kNegatives, name, out);
}
bool ParseMismatches(std::string_view name, Mismatches* out) {
  return ParseIn(kMismatches, name, out);
}

std::string ValidateOptions(const SeparationOptions& o) {
  if (!IsEnumerator(o.family, kFamilies)) {
    return "task: " + Str(static_cast<int>(o.family)) +
           " is not a task; expected index_lookup, dyck, nearest_neighbor or "
           "string_equality";
  }
  if (o.length < kMinLength || o.length > kMaxLength) {
    return OutOfRange("length", o.length, kMinLength, kMaxLength);
  }
  const bool odd = o.length % 2 != 0;
  switch (o.family) {
    case TaskFamily::kIndexLookup:
      return CheckVocab(o);
    case TaskFamily::kDyck:
      if (odd) return WrongParity(o, true, "a string of balanced pairs");
      if (o.depth < 1 || o.depth > kMaxDepth) {
        return OutOfRange("depth", o.depth, 1, kMaxDepth);
      }
      if (!IsEnumerator(o.negatives, kNegatives)) {
        return "negatives: " + Str(static_cast<int>(o.negatives)) +
               " is not a choice; expected mixed, flip or swap";
      }
      return "";
    case TaskFamily::kNearestNeighbor:
      if (odd) {
        return WrongParity(o, true,
                           "length/2 point-label pairs, then the query");
      }
      if (std::string error = CheckVocab(o); !error.empty()) return error;
      if (Vocab(o) < o.length / 2) {
        return "vocab: " + Str(Vocab(o)) +
               " is too small; nearest_neighbor needs vocab >= length/2 = " +
               Str(o.length / 2) + " distinct points";
      }
      if (o.labels < 2 || o.labels > kMaxVocab) {
        return OutOfRange("labels", o.labels, 2, kMaxVocab);
      }
      return "";
    case TaskFamily::kStringEquality:
      if (!odd) {
        return WrongParity(o, false,
                           "a # b, with (length - 1) / 2 symbols each");
      }
      if (std::string error = CheckVocab(o); !error.empty()) return error;
      if (!IsEnumerator(o.mismatches, kMismatches)) {
        return "mismatches: " + Str(static_cast<int>(o.mismatches)) +
               " is not a choice; expected mixed, one or uniform";
      }
      return "";
  }
  return "";
}

int DefaultLength(TaskFamily family) {
  return family == TaskFamily::kStringEquality ? 21 : 20;
}

int DefaultVocab(TaskFamily family) {
  switch (family) {
    case TaskFamily::kIndexLookup:
    case TaskFamily::kNearestNeighbor:
      return 64;
    case TaskFamily::kStringEquality:
      return 2;
    case TaskFamily::kDyck:
      return 0;
  }
  return 0;
}

int Vocab(const SeparationOptions& o) {
  return o.vocab != 0 ? o.vocab : DefaultVocab(o.family);
}

int TokenCount(const SeparationOptions& o) {
  switch (o.family) {
    case TaskFamily::kIndexLookup:
      return Vocab(o) + o.length;
    case TaskFamily::kDyck:
      return 4;
    case TaskFamily::kNearestNeighbor:
      return Vocab(o) + o.labels;
    case TaskFamily::kStringEquality:
      return Vocab(o) + 1;
  }
  return 0;
}

int AnswerCount(const SeparationOptions& o) {
  switch (o.family) {
    case TaskFamily::kIndexLookup:
      return Vocab(o);
    case TaskFamily::kNearestNeighbor:
      return o.labels;
    case TaskFamily::kDyck:
    case TaskFamily::kStringEquality:
      return 2;
  }
  return 0;
}

int WindowLength(const SeparationOptions& o) {
  const bool has_question = o.family == TaskFamily::kIndexLookup ||
                            o.family == TaskFamily::kNearestNeighbor;
  return o.length + (has_question ? 1 : 0);
}

bool InDyckLanguage(const int32_t* ids, int length, int depth) {
  if (length < 0 || depth < 0) return false;
  std::vector<int32_t> stack(std::min(depth, length) + 1);
  return InLanguage(ids, length, depth, stack.data());
}

// ---- QuestionSampler

namespace {

const SeparationOptions& Checked(const SeparationOptions& options) {
  const std::string error = ValidateOptions(options);
  if (!error.empty()) {
    std::fprintf(stderr, "switchyard::tasks: invalid SeparationOptions: %s\n",
                 error.c_str());
    std::abort();
  }
  return options;
}

// The share of a step's completions that go up, as a threshold on NextU64().
// Doubles rather than exact counts: the counts reach about 2^1014 at length
// 1024. Both terms come from one column, so its scale cancels.
uint64_t UpThreshold(double up, double down) {
  if (down == 0) return up == 0 ? kAlwaysDown : kAlwaysUp;
  if (up == 0) return kAlwaysDown;
  constexpr double kTwoTo64 = 18446744073709551616.0;
  const double scaled = up / (up + down) * kTwoTo64;  // exact scaling
  if (scaled >= kTwoTo64) return kAlwaysUp - 1;       // p rounded to 1
  return std::max<uint64_t>(static_cast<uint64_t>(scaled), 1);
}

}  // namespace

QuestionSampler::QuestionSampler(const SeparationOptions& options,
                                 uint64_t seed)
    : options_(Checked(options)),
      vocab_(Vocab(options)),
      window_(WindowLength(options)),
      rng_(seed) {
  const int n = options_.length;
  switch (options_.family) {
    case TaskFamily::kIndexLookup:
      break;
    case TaskFamily::kDyck: {
      // Walks from (i, h), i steps taken at height h, to (n, 0) within
      // 0..D: count(i, h) = count(i+1, h+1) + count(i+1, h-1). One column
      // at a time from i = n down, each rescaled by a power of two (exact)
      // so that its largest count lies in [0.5, 1).
      const int d = std::min(options_.depth, n / 2);
      dyck_depth_ = d;
      dyck_up_.assign(static_cast<size_t>(n) * (d + 1), kAlwaysDown);
      std::vector<double> next(d + 1, 0.0), column(d + 1, 0.0);
      next[0] = 1;
      for (int i = n - 1; i >= 0; --i) {
        double largest = 0;
        for (int h = 0; h <= d; ++h) {
          const double up = h < d ? next[h + 1] : 0;
          const double down = h > 0 ? next[h - 1] : 0;
          dyck_up_[static_cast<size_t>(i) * (d + 1) + h] =
              UpThreshold(up, down);
          column[h] = up + down;
          largest = std::max(largest, column[h]);
        }
        int exponent = 0;
        std::frexp(largest, &exponent);
        for (int h = 0; h <= d; ++h) next[h] = std::ldexp(column[h], -exponent);
      }
      stack_.resize(d + 1);
      kinds_.resize(n);
      break;
    }
    case TaskFamily::kNearestNeighbor:
      stamp_.assign(vocab_, 0);
      break;
    case TaskFamily::kStringEquality:
      stamp_.assign((n - 1) / 2, 0);
      break;
  }
}

void QuestionSampler::Sample(int batch, QuestionBatch* out) {
  batch = std::max(batch, 0);
  out->batch = batch;
  out->length = window_;
  out->input_ids.resize(static_cast<size_t>(batch) * window_);
  out->answers.resize(batch);
  for (int b = 0; b < batch; ++b) {
    int32_t* ids = out->input_ids.data() + static_cast<size_t>(b) * window_;
    switch (options_.family) {
      case TaskFamily::kIndexLookup:
        out->answers[b] = IndexLookup(ids);
        break;
      case TaskFamily::kDyck:
        out->answers[b] = Dyck(ids);
        break;
      case TaskFamily::kNearestNeighbor:
        out->answers[b] = NearestNeighbor(ids);
        break;
      case TaskFamily::kStringEquality:
        out->answers[b] = StringEquality(ids);
        break;
    }
  }
}

int32_t QuestionSampler::IndexLookup(int32_t* ids) {
  const int n = options_.length;
  for (int i = 0; i < n; ++i)
    ids[i] = static_cast<int32_t>(rng_.Uniform(vocab_));
  const int p = static_cast<int>(rng_.Uniform(n));  // 0-based: position p + 1
  ids[n] = vocab_ + p;
  return ids[p];
}

int32_t QuestionSampler::Dyck(int32_t* ids) {
  const bool yes = rng_.Uniform(2) == 1;
  DyckWalk(ids);
  if (!yes) DyckNegative(ids);
  return yes ? 1 : 0;
}

void QuestionSampler::DyckWalk(int32_t* ids) {
  const int n = options_.length;
  const int width = dyck_depth_ + 1;
  int height = 0;
  uint64_t bits = 0;
  int bits_left = 0;
  for (int i = 0; i < n; ++i) {
    const uint64_t t = dyck_up_[static_cast<size_t>(i) * width + height];
    const bool up = t == kAlwaysUp || (t != kAlwaysDown && rng_.NextU64() < t);
    if (up) {
      if (bits_left == 0) {
        bits = rng_.NextU64();
        bits_left = 64;
      }
      const int32_t open =
          static_cast<int32_t>(bits & 1) * 2;  // 0 "(" or 2 "["
      bits >>= 1;
      --bits_left;
      stack_[height++] = open;
      ids[i] = open;
    } else {
      ids[i] = stack_[--height] + 1;
    }
  }
}

void QuestionSampler::DyckNegative(int32_t* ids) {
  const int n = options_.length;
  const bool flip =
      options_.negatives == DyckNegatives::kFlip ||
      (options_.negatives == DyckNegatives::kMixed && rng_.Uniform(2) == 0);
  if (flip) {
    // A flip breaks its pair's match, so the first try always leaves the
    // language; the loop keeps the rule "drawn again" honest all the same.
    while (true) {
      const int p = static_cast<int>(rng_.Uniform(n));
      ids[p] ^= 2;
      if (!InLanguage(ids, n, dyck_depth_, stack_.data())) return;
      ids[p] ^= 2;
    }
  }
  // kinds_: the positions of the openings, then those of the closings.
  int opens = 0, closes = n / 2;
  for (int i = 0; i < n; ++i) kinds_[(ids[i] & 1) ? closes++ : opens++] = i;
  while (true) {
    const int a = kinds_[rng_.Uniform(n / 2)];
    const int b = kinds_[n / 2 + rng_.Uniform(n / 2)];
    std::swap(ids[a], ids[b]);
    // Swapping the first bracket (an opening) away always leaves the
    // language, so this ends.
    if (!InLanguage(ids, n, dyck_depth_, stack_.data())) return;
    std::swap(ids[a], ids[b]);
  }
}

int32_t QuestionSampler::NearestNeighbor(int32_t* ids) {
  const int k = options_.length / 2;
  if (++stamp_now_ == 0) {  // wrapped: old marks could read as current
    std::fill(stamp_.begin(), stamp_.end(), 0);
    stamp_now_ = 1;
  }
  for (int j = 0; j < k; ++j) {
    uint32_t point;
    do {
      point = rng_.Uniform(vocab_);
    } while (stamp_[point] == stamp_now_);
    stamp_[point] = stamp_now_;
    ids[2 * j] = static_cast<int32_t>(point);
    ids[2 * j + 1] =
        vocab_ + static_cast<int32_t>(rng_.Uniform(options_.labels));
  }
  // A query on a point has distance 0 there alone, so a query exists.
  while (true) {
    const int32_t query = static_cast<int32_t>(rng_.Uniform(vocab_));
    int32_t best = std::numeric_limits<int32_t>::max();
    int32_t label = 0;
    bool tie = false;
    for (int j = 0; j < k; ++j) {
      const int32_t distance = std::abs(ids[2 * j] - query);
      if (distance < best) {
        best = distance;
        label = ids[2 * j + 1] - vocab_;
        tie = false;
      } else if (distance == best) {
        tie = true;
      }
    }
    if (!tie) {
      ids[2 * k] = query;
      return label;
    }
  }
}

int32_t QuestionSampler::StringEquality(int32_t* ids) {
  const int n = (options_.length - 1) / 2;
  int32_t* a = ids;
  int32_t* b = ids + n + 1;
  for (int i = 0; i < n; ++i) a[i] = static_cast<int32_t>(rng_.Uniform(vocab_));
  ids[n] = vocab_;  // '#'
  const bool yes = rng_.Uniform(2) == 1;
  std::copy(a, a + n, b);
  if (yes) return 1;
  int m = 1;
  switch (options_.mismatches) {
    case Mismatches::kMixed:
      if (n > 1 && rng_.Uniform(2) == 1)
        m = 2 + static_cast<int>(rng_.Uniform(n - 1));
      break;
    case Mismatches::kOne:
      break;
    case Mismatches::kUniform:
      m = 1 + static_cast<int>(rng_.Uniform(n));
      break;
  }
  if (++stamp_now_ == 0) {
    std::fill(stamp_.begin(), stamp_.end(), 0);
    stamp_now_ = 1;
  }
  // Floyd's algorithm: m distinct positions, each set of m equally likely.
  for (int j = n - m; j < n; ++j) {
    int t = static_cast<int>(rng_.Uniform(j + 1));
    if (stamp_[t] == stamp_now_) t = j;
    stamp_[t] = stamp_now_;
    b[t] = (a[t] + 1 + static_cast<int32_t>(rng_.Uniform(vocab_ - 1))) % vocab_;
  }
  return 0;
}

std::string QuestionSampler::SaveState() const { return rng_.SaveState(); }

bool QuestionSampler::LoadState(const std::string& state) {
  return rng_.LoadState(state);
}

// ---- printing

std::string TokenText(const SeparationOptions& o, int id) {
  if (id < 0 || id >= TokenCount(o)) return "?";
  const int v = Vocab(o);
  switch (o.family) {
    case TaskFamily::kIndexLookup:
      return id < v ? Str(id) : "@" + Str(id - v + 1);
    case TaskFamily::kDyck:
      return std::string(1, "()[]"[id]);
    case TaskFamily::kNearestNeighbor:
      return id < v ? Str(id) : "L" + Str(id - v);
    case TaskFamily::kStringEquality:
      return id < v ? Str(id) : "#";
  }
  return "?";
}

std::string AnswerText(const SeparationOptions& o, int answer) {
  if (answer < 0 || answer >= AnswerCount(o)) return "?";
  switch (o.family) {
    case TaskFamily::kIndexLookup:
      return Str(answer);
    case TaskFamily::kNearestNeighbor:
      return "L" + Str(answer);
    case TaskFamily::kDyck:
    case TaskFamily::kStringEquality:
      return answer == 1 ? "yes" : "no";
  }
  return "?";
}

std::string FormatQuestion(const SeparationOptions& o,
                           const QuestionBatch& batch, int row) {
  std::string line;
  const int32_t* ids =
      batch.input_ids.data() + static_cast<size_t>(row) * batch.length;
  for (int i = 0; i < batch.length; ++i) {
    if (i > 0) line += ' ';
    line += TokenText(o, ids[i]);
  }
  return line + " => " + AnswerText(o, batch.answers[row]);
}

}  // namespace switchyard::tasks
