// Unguessable secrets as lowercase hex: `bytes` random bytes from the kernel
// (getrandom(2), one system call for up to 256 bytes), so 2 * bytes
// characters. Used for the bearer tokens `switchyard token` writes and for
// the coordinator's per-attempt fencing tokens. Header-only, like
// constant_time.h, so that the RPC layer and the server core share it
// without linking each other. Thread-safe; keeps no state.
#ifndef SWITCHYARD_COMMON_BASE_RANDOM_HEX_H_
#define SWITCHYARD_COMMON_BASE_RANDOM_HEX_H_

#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace switchyard::common {

inline std::string RandomHex(size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  size_t filled = 0;
  while (filled < bytes) {
    const ssize_t got = getrandom(raw.data() + filled, bytes - filled, 0);
    if (got > 0) {
      filled += static_cast<size_t>(got);
    } else if (got < 0 && errno != EINTR) {
      // No getrandom (a kernel older than 3.17): the OS device instead.
      std::random_device device;
      for (; filled < bytes; ++filled) raw[filled] = static_cast<uint8_t>(device());
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes);
  for (uint8_t byte : raw) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 15]);
  }
  return hex;
}

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_BASE_RANDOM_HEX_H_
