// Incremental SHA-256 (OpenSSL underneath), lowercase hex digests.
#ifndef SWITCHYARD_COMMON_BASE_SHA256_H_
#define SWITCHYARD_COMMON_BASE_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

namespace switchyard::common {

// Not thread-safe; one per stream of bytes.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  std::string HexDigest();  // finishes; call once

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string Sha256Hex(std::string_view bytes);

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_BASE_SHA256_H_
