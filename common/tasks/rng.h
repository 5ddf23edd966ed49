// A small, fully specified pseudo-random generator for the task generators.
//
// Why not <random>: the engines are specified, but the distributions
// (uniform_int_distribution and friends) are not, so the same seed gives
// different streams under libstdc++, libc++ and MSVC. Everything here is
// fixed by its definition, so a seed means the same stream on every platform.
//
// Thread safety: not synchronised; use one Rng per thread.
#ifndef SWITCHYARD_COMMON_TASKS_RNG_H_
#define SWITCHYARD_COMMON_TASKS_RNG_H_

#include <cstdint>
#include <string>

namespace switchyard::tasks {

// xoshiro256** 1.0 (Blackman and Vigna), its four state words filled by four
// successive outputs of splitmix64 started at `seed`. Any 64-bit seed is fine,
// 0 included. Copying an Rng copies its position in the sequence.
class Rng {
 public:
  explicit Rng(uint64_t seed);

  // The next 64-bit output of xoshiro256**.
  uint64_t NextU64();

  // A uniform integer in [0, n), unbiased. Definition (fixed, part of the
  // contract, since streams and golden tests depend on it): draw
  // x = NextU64() >> 32 and m = x * n (64-bit); if the low 32 bits of m are
  // below (2^32 - n) mod n, draw again; return m >> 32 (Lemire's method).
  // Uses one draw except with probability below n / 2^32. Returns 0 without
  // drawing when n <= 1.
  uint32_t Uniform(uint32_t n);

  // The full state as printable ASCII without spaces:
  // "xoshiro256ss:" followed by the four state words as 16 lowercase hex
  // digits each, separated by ':'.
  std::string SaveState() const;

  // Restores a state written by SaveState (hex digits may be upper case).
  // Returns false, leaving this Rng unchanged, when `state` is malformed or
  // all four words are zero (a state xoshiro can never leave).
  bool LoadState(const std::string& state);

 private:
  uint64_t s_[4];
};

}  // namespace switchyard::tasks

#endif  // SWITCHYARD_COMMON_TASKS_RNG_H_
