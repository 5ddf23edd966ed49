#include "common/base/flags.h"

namespace switchyard::common {

std::vector<std::string> DashedFlagsToAbsl(int argc, char** argv) {
  std::vector<std::string> out;
  bool positional_only = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && !positional_only && arg == "--") positional_only = true;
    if (i > 0 && !positional_only && arg.size() > 2 && arg[0] == '-') {
      size_t start = arg[1] == '-' ? 2 : 1;
      size_t end = arg.find('=');
      if (end == std::string::npos) end = arg.size();
      for (size_t j = start; j < end; ++j) {
        if (arg[j] == '-') arg[j] = '_';
      }
    }
    out.push_back(std::move(arg));
  }
  return out;
}

NormalizedArgs::NormalizedArgs(int argc, char** argv) : args_(DashedFlagsToAbsl(argc, argv)) {
  for (std::string& arg : args_) pointers_.push_back(arg.data());
  pointers_.push_back(nullptr);
}

}  // namespace switchyard::common
