#include "common/tasks/iarc.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace switchyard::tasks {
namespace {

constexpr char kCanonical[] = "IARC";
constexpr char kTasksAllowed[] =
    "allowed: a non-empty subset of IARC in that order";

// Position of `c` in "IARC", or -1.
int CanonicalIndex(char c) {
  for (int i = 0; i < 4; ++i) {
    if (kCanonical[i] == c) return i;
  }
  return -1;
}

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

std::string ValidateTasks(const std::string& tasks) {
  if (tasks.empty()) {
    return "tasks: '' is empty; " + std::string(kTasksAllowed);
  }
  for (char c : tasks) {
    if (CanonicalIndex(c) < 0) {
      return "tasks: " + Quoted(tasks) + " has an unknown letter '" +
             std::string(1, c) + "'; " + kTasksAllowed;
    }
  }
  // Only the canonical spelling is accepted: control token ids follow the
  // canonical order, so accepting "AI" would suggest the order means something.
  bool seen[4] = {};
  for (char c : tasks) {
    if (seen[CanonicalIndex(c)]) {
      return "tasks: " + Quoted(tasks) + " repeats the letter '" +
             std::string(1, c) + "'; " + kTasksAllowed;
    }
    seen[CanonicalIndex(c)] = true;
  }
  std::string canonical;
  for (int i = 0; i < 4; ++i) {
    if (seen[i]) canonical += kCanonical[i];
  }
  if (canonical != tasks) {
    return "tasks: " + Quoted(tasks) + " is not in canonical order; write " +
           Quoted(canonical) + " (" + kTasksAllowed + ")";
  }
  if (!seen[0] && !seen[1] && !seen[2]) {
    return "tasks: " + Quoted(tasks) + " must contain one of I, A, R";
  }
  return "";
}

void RequireValid(const IarcOptions& options) {
  const std::string error = ValidateOptions(options);
  if (!error.empty()) {
    std::fprintf(stderr, "switchyard::tasks: invalid IarcOptions: %s\n",
                 error.c_str());
    std::abort();
  }
}

const IarcOptions& Checked(const IarcOptions& options) {
  RequireValid(options);
  return options;
}

Token ControlToken(char letter, int id) {
  Token token;
  token.is_control = true;
  token.control = letter;
  token.id = id;
  return token;
}

Token SeedToken(int number) {
  Token token;
  token.number = number;
  token.id = number;
  return token;
}

}  // namespace

std::string ValidateOptions(const IarcOptions& options) {
  std::string error = ValidateTasks(options.tasks);
  if (!error.empty()) return error;
  const int task_count = static_cast<int>(options.tasks.size());
  if (options.d > kMaxOptionValue) {
    return "d: " + std::to_string(options.d) + " must be at most " +
           std::to_string(kMaxOptionValue);
  }
  if (options.d - task_count < 2) {
    return "d: " + std::to_string(options.d) + " leaves N = " +
           std::to_string(options.d - task_count) +
           " number tokens for tasks " + Quoted(options.tasks) +
           "; d must be at least |tasks| + 2 = " +
           std::to_string(task_count + 2);
  }
  if (options.switch_min < 2) {
    return "switch_min: " + std::to_string(options.switch_min) +
           " must be at least 2 (a distance of 1 would put two control "
           "tokens side by side)";
  }
  if (options.switch_max < options.switch_min) {
    return "switch_max: " + std::to_string(options.switch_max) +
           " is less than switch_min " + std::to_string(options.switch_min);
  }
  if (options.switch_max > kMaxOptionValue) {
    return "switch_max: " + std::to_string(options.switch_max) +
           " must be at most " + std::to_string(kMaxOptionValue);
  }
  if (options.context_length < 1 ||
      options.context_length > kMaxOptionValue) {
    return "context_length: " + std::to_string(options.context_length) +
           " must be in 1.." + std::to_string(kMaxOptionValue);
  }
  if (options.burn_in < -1 || options.burn_in > kMaxOptionValue) {
    return "burn_in: " + std::to_string(options.burn_in) +
           " must be -1 (the safe default) or in 0.." +
           std::to_string(kMaxOptionValue);
  }
  if (options.c_mode != CMode::kPerToken && options.c_mode != CMode::kPerStep) {
    return "c_mode: " + std::to_string(static_cast<int>(options.c_mode)) +
           " is not a CMode; allowed: per_token, per_step";
  }
  if (options.layout != Layout::kSeparate &&
      options.layout != Layout::kAttached) {
    return "layout: " + std::to_string(static_cast<int>(options.layout)) +
           " is not a Layout; allowed: separate, attached";
  }
  return "";
}

bool ParseCMode(const std::string& name, CMode* out) {
  if (name == "per_token") {
    *out = CMode::kPerToken;
  } else if (name == "per_step") {
    *out = CMode::kPerStep;
  } else {
    return false;
  }
  return true;
}

bool ParseLayout(const std::string& name, Layout* out) {
  if (name == "separate") {
    *out = Layout::kSeparate;
  } else if (name == "attached") {
    *out = Layout::kAttached;
  } else {
    return false;
  }
  return true;
}

const char* CModeName(CMode mode) {
  switch (mode) {
    case CMode::kPerToken:
      return "per_token";
    case CMode::kPerStep:
      return "per_step";
  }
  return "unknown";
}

const char* LayoutName(Layout layout) {
  switch (layout) {
    case Layout::kSeparate:
      return "separate";
    case Layout::kAttached:
      return "attached";
  }
  return "unknown";
}

int NumberCount(const IarcOptions& options) {
  return options.d - static_cast<int>(options.tasks.size());
}

int BurnIn(const IarcOptions& options) {
  if (options.burn_in >= 0) return options.burn_in;
  // A reverse copy runs past the start only while it began with m <=
  // switch_max - 2 numbers behind it; the latest such number sits at
  // m + (controls among those m) + 1 + (switch_max - 1), and at most
  // (m - 2) / (switch_min - 1) controls fit among m numbers (see docs/iarc.md).
  const int smin = std::max(options.switch_min, 2);
  const int smax = options.switch_max;
  int safe = 0;
  if (smax >= 4) safe = 2 * smax - 2 + (smax - 4) / (smin - 1);
  return std::max(2 * smax, safe);
}

int ControlTokenId(const IarcOptions& options, char control) {
  const size_t index = options.tasks.find(control);
  if (control == 0 || index == std::string::npos) return -1;
  return NumberCount(options) + static_cast<int>(index);
}

// ---------------------------------------------------------------------------
// RuleEngine

RuleEngine::RuleEngine(int number_count, CMode c_mode, char first_task)
    : n_(number_count),
      c_mode_(c_mode),
      first_task_(first_task),
      task_(first_task) {}

void RuleEngine::Seed(int a, int b) {
  history_.clear();
  history_.push_back(a);
  history_.push_back(b);
  task_ = first_task_;
  k_ = 1;
  k_raised_ = false;
  k_growing_ = false;
  // A first C on an R task restarts the copy from the seeds.
  reverse_next_ = 1;
}

void RuleEngine::Control(char control) {
  const long long last = static_cast<long long>(history_.size()) - 1;
  switch (control) {
    case 'I':
    case 'A':
      task_ = control;
      k_ = 1;
      k_raised_ = false;
      k_growing_ = false;
      break;
    case 'R':
      task_ = 'R';
      reverse_next_ = last;
      break;
    case 'C':
      if (task_ == 'I') {
        k_ = (k_ + 1) % n_;
        k_raised_ = true;
        if (c_mode_ == CMode::kPerStep) k_growing_ = true;
      } else if (task_ == 'R') {
        // Restart from the numbers so far, the copy's own output included.
        reverse_next_ = last;
      }
      // On A a C is another A: nothing changes.
      break;
    default:
      break;
  }
}

Token RuleEngine::NextNumber(Rng* rng) {
  const size_t size = history_.size();
  Token token;
  int value = 0;
  switch (task_) {
    case 'I':
      value = (history_[size - 1] + k_) % n_;
      token.rule = k_raised_ ? Rule::kC : Rule::kI;
      if (k_growing_) k_ = (k_ + 1) % n_;
      break;
    case 'A':
      value = (history_[size - 1] + history_[size - 2]) % n_;
      token.rule = Rule::kA;
      break;
    default:  // 'R'
      if (reverse_next_ >= 0) {
        value = history_[static_cast<size_t>(reverse_next_)];
        --reverse_next_;
      } else {
        // (choice) The copy reached before the first number: draw.
        value = static_cast<int>(rng->Uniform(static_cast<uint32_t>(n_)));
      }
      token.rule = Rule::kR;
      break;
  }
  history_.push_back(value);
  token.number = value;
  token.id = value;
  return token;
}

// ---------------------------------------------------------------------------
// StreamGenerator

StreamGenerator::StreamGenerator(const IarcOptions& options, Rng* rng)
    : rng_(rng),
      n_(NumberCount(Checked(options))),
      switch_min_(options.switch_min),
      switch_span_(options.switch_max - options.switch_min + 1),
      first_without_c_(options.first_control_without_c &&
                       options.tasks.back() == 'C'),
      letter_count_(static_cast<int>(options.tasks.size())),
      engine_(n_, options.c_mode, options.tasks[0]) {
  std::copy(options.tasks.begin(), options.tasks.end(), letters_);
}

void StreamGenerator::Reset(Rng* rng) {
  rng_ = rng;
  produced_ = 0;
  until_control_ = 0;
}

Token StreamGenerator::Next() {
  const long long index = produced_++;
  if (index == 0) {
    const int a = static_cast<int>(rng_->Uniform(static_cast<uint32_t>(n_)));
    second_seed_ = static_cast<int>(rng_->Uniform(static_cast<uint32_t>(n_)));
    engine_.Seed(a, second_seed_);
    return SeedToken(a);
  }
  if (index == 1) return SeedToken(second_seed_);
  if (until_control_ == 0) {
    // C is last in canonical order, so "the set without C" is a prefix.
    const int choices = (index == 2 && first_without_c_) ? letter_count_ - 1
                                                         : letter_count_;
    const int letter_index =
        static_cast<int>(rng_->Uniform(static_cast<uint32_t>(choices)));
    const int distance =
        switch_min_ +
        static_cast<int>(rng_->Uniform(static_cast<uint32_t>(switch_span_)));
    until_control_ = distance - 1;
    const char letter = letters_[letter_index];
    engine_.Control(letter);
    return ControlToken(letter, n_ + letter_index);
  }
  --until_control_;
  return engine_.NextNumber(rng_);
}

// ---------------------------------------------------------------------------
// Printing

namespace {

void AppendStream(const IarcOptions& options, uint64_t seed, int length,
                  std::string* out) {
  Rng rng(seed);
  StreamGenerator stream(options, &rng);
  char buffer[16];
  for (int i = 0; i < length; ++i) {
    if (i > 0) *out += ' ';
    const Token token = stream.Next();
    if (token.is_control) {
      *out += token.control;
    } else {
      const int written =
          std::snprintf(buffer, sizeof(buffer), "%d", token.number);
      out->append(buffer, static_cast<size_t>(written));
    }
  }
}

}  // namespace

std::string FormatStream(const IarcOptions& options, uint64_t seed,
                         int length) {
  RequireValid(options);
  std::string out;
  AppendStream(options, seed, length, &out);
  return out;
}

std::string FormatStreams(const IarcOptions& options, uint64_t seed, int count,
                          int length) {
  RequireValid(options);
  Rng seeds(seed);
  std::string out;
  for (int i = 0; i < count; ++i) {
    AppendStream(options, seeds.NextU64(), length, &out);
    out += '\n';
  }
  return out;
}

// ---------------------------------------------------------------------------
// WindowSampler

WindowSampler::WindowSampler(const IarcOptions& options, uint64_t seed)
    : options_(Checked(options)),
      rng_(seed),
      burn_in_(BurnIn(options)),
      stream_(options, &stream_rng_) {}

void WindowSampler::Sample(int batch, WindowBatch* out) {
  batch = std::max(batch, 0);
  const int length = options_.context_length;
  const size_t cells = static_cast<size_t>(batch) * length;
  const bool attached = options_.layout == Layout::kAttached;
  out->batch = batch;
  out->length = length;
  out->input_ids.resize(cells);
  out->targets.resize(cells);
  out->rules.resize(cells);
  if (attached) {
    out->input_control_ids.resize(cells);
  } else {
    out->input_control_ids.clear();
  }

  for (int b = 0; b < batch; ++b) {
    // One seed per window from the sampler's rng keeps its whole state in
    // rng_, and makes every window a slice of a stream FormatStream prints.
    stream_rng_ = Rng(rng_.NextU64());
    stream_.Reset(&stream_rng_);  // re-pointed each time: copies stay valid
    const size_t row = static_cast<size_t>(b) * length;
    int32_t* inputs = out->input_ids.data() + row;
    int32_t* targets = out->targets.data() + row;
    Rule* rules = out->rules.data() + row;

    Token last_skipped;
    for (int i = 0; i < burn_in_; ++i) last_skipped = stream_.Next();

    if (!attached) {
      Token previous = stream_.Next();
      for (int p = 0; p < length; ++p) {
        const Token next = stream_.Next();
        inputs[p] = previous.id;
        targets[p] = next.is_control ? -1 : next.number;
        rules[p] = next.is_control ? Rule::kNone : next.rule;
        previous = next;
      }
      continue;
    }

    int32_t* controls = out->input_control_ids.data() + row;
    // switch_min >= 2 puts at most one control token before each number.
    int32_t carried =
        (burn_in_ > 0 && last_skipped.is_control) ? last_skipped.id : -1;
    Token previous = stream_.Next();
    if (previous.is_control) {
      carried = previous.id;
      previous = stream_.Next();
    }
    for (int p = 0; p < length; ++p) {
      Token next = stream_.Next();
      int32_t next_carried = -1;
      if (next.is_control) {
        next_carried = next.id;
        next = stream_.Next();
      }
      inputs[p] = previous.id;
      controls[p] = carried;
      targets[p] = next.number;
      rules[p] = next.rule;
      previous = next;
      carried = next_carried;
    }
  }
}

std::string WindowSampler::SaveState() const { return rng_.SaveState(); }

bool WindowSampler::LoadState(const std::string& state) {
  return rng_.LoadState(state);
}

}  // namespace switchyard::tasks
