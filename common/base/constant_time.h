// Comparing secrets (bearer tokens, fencing tokens) in constant time.
//
// Header-only and free of dependencies, so that both the RPC layer
// (common/rpc/auth) and the store (server/store, fencing tokens) use the same
// comparison without linking each other.
//
// Thread safety: a pure function.
#ifndef SWITCHYARD_COMMON_BASE_CONSTANT_TIME_H_
#define SWITCHYARD_COMMON_BASE_CONSTANT_TIME_H_

#include <cstddef>
#include <string_view>

namespace switchyard::common {

// True when `given` equals `expected`. Pass the secret as `expected`: the time
// taken depends on expected.size() alone. Every byte of `expected` is read
// whatever `given` holds and there is no early exit, so neither where a guess
// first goes wrong nor whether its length is right shows in the time.
inline bool ConstantTimeEquals(std::string_view given,
                               std::string_view expected) {
  size_t difference = given.size() ^ expected.size();
  for (size_t i = 0; i < expected.size(); ++i) {
    // Past the end of `given` compare with 0: the sizes already differ.
    const unsigned char g =
        i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference |=
        static_cast<size_t>(g ^ static_cast<unsigned char>(expected[i]));
    // The compiler must assume the empty asm changes `difference`, so it can
    // neither stop the loop once a difference is known nor call memcmp.
    __asm__ volatile("" : "+r"(difference));
  }
  return difference == 0;
}

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_BASE_CONSTANT_TIME_H_
