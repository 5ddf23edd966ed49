// A check for the fuzz harnesses that stays on in every build: a property
// that does not hold aborts, which libFuzzer reports as a crash and saves the
// input.
#ifndef SWITCHYARD_TESTS_FUZZ_FUZZ_CHECK_H_
#define SWITCHYARD_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#define FUZZ_CHECK(condition, what)                                        \
  do {                                                                     \
    if (!(condition)) {                                                    \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s: %s\n", __FILE__, \
                   __LINE__, #condition, std::string(what).c_str());       \
      std::abort();                                                        \
    }                                                                      \
  } while (0)

#endif  // SWITCHYARD_TESTS_FUZZ_FUZZ_CHECK_H_
