// Flag values for the benchmark binaries. A bad value ends the program with
// exit status 2 and one line that names the program, the flag and what was
// wrong ("compare_switchyard: --jobs: expected a whole number from 1 up, got
// 'ten'"), instead of an uncaught std::invalid_argument from std::stoi.
// Header-only so that every bench binary can use it without a library of
// its own.
#ifndef SWITCHYARD_BENCH_BENCH_ARGS_H_
#define SWITCHYARD_BENCH_BENCH_ARGS_H_

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::bench {

[[noreturn]] inline void BadFlag(std::string_view program, std::string_view flag,
                                 std::string_view expected, std::string_view value) {
  std::cerr << program << ": " << flag << ": expected " << expected << ", got '" << value
            << "'\n";
  std::exit(2);
}

// A whole number in [min, max], the entire value (no trailing text), of the
// type of `min` (IntFlag(program, flag, value, 1, 4096) gives an int).
template <typename Int>
Int IntFlag(std::string_view program, std::string_view flag, std::string_view value, Int min,
            Int max = std::numeric_limits<Int>::max()) {
  Int parsed = 0;
  const char* end = value.data() + value.size();
  auto [stop, error] = std::from_chars(value.data(), end, parsed);
  if (value.empty() || error != std::errc() || stop != end || parsed < min || parsed > max) {
    std::string expected = "a whole number from " + std::to_string(min);
    expected += max == std::numeric_limits<Int>::max() ? " up" : " to " + std::to_string(max);
    BadFlag(program, flag, expected, value);
  }
  return parsed;
}

// A comma-separated list of whole numbers, each at least `min`; not empty.
inline std::vector<int64_t> IntListFlag(std::string_view program, std::string_view flag,
                                        std::string_view value, int64_t min) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    const size_t comma = value.find(',', start);
    const std::string_view item =
        value.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                            : comma - start);
    out.push_back(IntFlag(program, flag, item, min));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

// A finite number greater than zero.
inline double PositiveFlag(std::string_view program, std::string_view flag,
                           std::string_view value) {
  const std::string text(value);
  char* stop = nullptr;
  const double parsed = text.empty() ? 0 : std::strtod(text.c_str(), &stop);
  if (text.empty() || stop != text.c_str() + text.size() || !(parsed > 0) ||
      parsed > std::numeric_limits<double>::max()) {
    BadFlag(program, flag, "a number greater than 0", value);
  }
  return parsed;
}

}  // namespace switchyard::bench

#endif  // SWITCHYARD_BENCH_BENCH_ARGS_H_
