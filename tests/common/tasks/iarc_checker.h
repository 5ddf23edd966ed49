// An independent checker for IARC streams, shared by the tests: it works from
// the printed tokens alone, never from the generator's state.
#ifndef SWITCHYARD_TESTS_COMMON_TASKS_IARC_CHECKER_H_
#define SWITCHYARD_TESTS_COMMON_TASKS_IARC_CHECKER_H_

#include <sstream>
#include <string>
#include <vector>

#include "common/tasks/iarc.h"

namespace switchyard::tasks {

// One printed token.
struct Printed {
  bool is_control = false;
  char letter = 0;
  int number = 0;
};

inline std::vector<Printed> Parse(const std::string& text) {
  std::vector<Printed> out;
  std::istringstream in(text);
  for (std::string word; in >> word;) {
    Printed p;
    if (word.size() == 1 && std::string("IARC").find(word[0]) !=
                                std::string::npos) {
      p.is_control = true;
      p.letter = word[0];
    } else {
      p.number = std::stoi(word);
    }
    out.push_back(p);
  }
  return out;
}

// What the checker derived from a printed stream.
struct Derived {
  std::string error;            // "" when the stream obeys the spec
  std::vector<Rule> rules;      // per token; kNone for seeds and controls
  std::vector<bool> drawn;      // per token: a reverse copy ran past the start
};

// Re-derives a stream from its printed tokens alone, written without the
// generator's state machine: for each number it looks back for the task in
// force, counts the C tokens since, and computes the value from the spec's
// formulas directly.
inline Derived Check(const std::vector<Printed>& t, const IarcOptions& o) {
  const int n = NumberCount(o);
  Derived out;
  out.rules.assign(t.size(), Rule::kNone);
  out.drawn.assign(t.size(), false);
  auto fail = [&](size_t p, const std::string& why) {
    if (out.error.empty()) {
      out.error = "token " + std::to_string(p) + ": " + why;
    }
  };

  // Structure: two seeds, then a control token, controls spaced D apart.
  std::vector<int> numbers;                  // numbers in stream order
  std::vector<int> numbers_before(t.size());  // count of numbers before p
  int last_control = -1;
  for (size_t p = 0; p < t.size(); ++p) {
    numbers_before[p] = static_cast<int>(numbers.size());
    if (p < 2 && t[p].is_control) fail(p, "a seed must be a number");
    if (p == 2 && !t[p].is_control) fail(p, "a control must follow the seeds");
    if (t[p].is_control) {
      if (o.tasks.find(t[p].letter) == std::string::npos) {
        fail(p, "control not in the task set");
      }
      if (last_control < 0 && o.first_control_without_c &&
          t[p].letter == 'C') {
        fail(p, "first control is C");
      }
      if (last_control >= 0) {
        const int distance = static_cast<int>(p) - last_control;
        if (distance < o.switch_min || distance > o.switch_max) {
          fail(p, "control spacing " + std::to_string(distance));
        }
      }
      last_control = static_cast<int>(p);
    } else {
      if (t[p].number < 0 || t[p].number >= n) fail(p, "number out of range");
      numbers.push_back(t[p].number);
    }
  }
  if (last_control >= 0 &&
      static_cast<int>(t.size()) - last_control > o.switch_max) {
    fail(t.size(), "too many numbers after the last control");
  }

  for (size_t p = 3; p < t.size(); ++p) {
    if (t[p].is_control) continue;
    // The task in force: the latest I, A or R; before any, the set's first.
    int q = static_cast<int>(p) - 1;
    while (q >= 0 && !(t[q].is_control && t[q].letter != 'C')) --q;
    const char task = q >= 0 ? t[q].letter : o.tasks[0];
    const int from = q >= 0 ? q : 1;
    int cs = 0;
    int first_c = -1;
    for (int i = from + 1; i < static_cast<int>(p); ++i) {
      if (t[i].is_control) {  // only C tokens lie between q and p
        ++cs;
        if (first_c < 0) first_c = i;
      }
    }
    const int count = numbers_before[p];
    const int x = numbers[count - 1];
    const int x2 = numbers[count - 2];
    int expected = -1;
    switch (task) {
      case 'I': {
        long long k = 1 + cs;
        if (o.c_mode == CMode::kPerStep && cs > 0) {
          k += numbers_before[p] - numbers_before[first_c];
        }
        expected = static_cast<int>((x + k) % n);
        out.rules[p] = cs > 0 ? Rule::kC : Rule::kI;
        break;
      }
      case 'A':
        expected = (x + x2) % n;
        out.rules[p] = Rule::kA;
        break;
      case 'R': {
        // The copy restarts at the latest R or C, i.e. the latest control.
        int anchor = static_cast<int>(p) - 1;
        while (!t[anchor].is_control) --anchor;
        const int m = numbers_before[anchor];
        const int j = numbers_before[p] - numbers_before[anchor] + 1;
        if (m - j >= 0) {
          expected = numbers[m - j];
        } else {
          out.drawn[p] = true;  // any value is allowed
        }
        out.rules[p] = Rule::kR;
        break;
      }
    }
    if (!out.drawn[p] && t[p].number != expected) {
      fail(p, "task " + std::string(1, task) + " expects " +
                  std::to_string(expected) + ", stream has " +
                  std::to_string(t[p].number));
    }
  }
  return out;
}

}  // namespace switchyard::tasks

#endif  // SWITCHYARD_TESTS_COMMON_TASKS_IARC_CHECKER_H_
