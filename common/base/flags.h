// Command-line conventions shared by the binaries that use Abseil flags.
#ifndef SWITCHYARD_COMMON_BASE_FLAGS_H_
#define SWITCHYARD_COMMON_BASE_FLAGS_H_

#include <string>
#include <vector>

namespace switchyard::common {

// Abseil flags are named with underscores; people type dashes
// (--data-dir). Returns argv with the dashes inside each flag's name (before
// any '=') turned into underscores; values and positional arguments are left
// alone, and so is everything after a lone "--".
std::vector<std::string> DashedFlagsToAbsl(int argc, char** argv);

// Holds the rewritten arguments and the char* array that points into them.
class NormalizedArgs {
 public:
  NormalizedArgs(int argc, char** argv);
  int argc() const { return static_cast<int>(pointers_.size()) - 1; }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> pointers_;
};

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_BASE_FLAGS_H_
