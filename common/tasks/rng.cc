#include "common/tasks/rng.h"

#include <cstddef>

namespace switchyard::tasks {
namespace {

constexpr char kStatePrefix[] = "xoshiro256ss:";
constexpr size_t kStatePrefixLength = sizeof(kStatePrefix) - 1;
constexpr char kHexDigits[] = "0123456789abcdef";

uint64_t SplitMix64(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Rng::Rng(uint64_t seed) {
  // splitmix64 spreads any seed (0 included) over all 256 bits, so the state
  // is never all zero in practice and nearby seeds give unrelated streams.
  for (uint64_t& word : s_) word = SplitMix64(&seed);
}

uint64_t Rng::NextU64() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

uint32_t Rng::Uniform(uint32_t n) {
  if (n <= 1) return 0;
  // The upper 32 bits: xoshiro's low bits are its weakest.
  uint64_t m = (NextU64() >> 32) * uint64_t{n};
  uint32_t low = static_cast<uint32_t>(m);
  if (low < n) {
    // Only now pay for the division: the exact rejection threshold.
    const uint32_t threshold = static_cast<uint32_t>(-n) % n;
    while (low < threshold) {
      m = (NextU64() >> 32) * uint64_t{n};
      low = static_cast<uint32_t>(m);
    }
  }
  return static_cast<uint32_t>(m >> 32);
}

std::string Rng::SaveState() const {
  std::string out(kStatePrefix);
  for (int i = 0; i < 4; ++i) {
    if (i > 0) out += ':';
    for (int shift = 60; shift >= 0; shift -= 4) {
      out += kHexDigits[(s_[i] >> shift) & 0xf];
    }
  }
  return out;
}

bool Rng::LoadState(const std::string& state) {
  // Prefix, then four words of exactly 16 digits with ':' between them.
  constexpr size_t kLength = kStatePrefixLength + 4 * 16 + 3;
  if (state.size() != kLength ||
      state.compare(0, kStatePrefixLength, kStatePrefix) != 0) {
    return false;
  }
  uint64_t words[4];
  size_t pos = kStatePrefixLength;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (state[pos] != ':') return false;
      ++pos;
    }
    uint64_t word = 0;
    for (int digit = 0; digit < 16; ++digit, ++pos) {
      const int value = HexValue(state[pos]);
      if (value < 0) return false;
      word = (word << 4) | static_cast<uint64_t>(value);
    }
    words[i] = word;
  }
  if ((words[0] | words[1] | words[2] | words[3]) == 0) return false;
  for (int i = 0; i < 4; ++i) s_[i] = words[i];
  return true;
}

}  // namespace switchyard::tasks
