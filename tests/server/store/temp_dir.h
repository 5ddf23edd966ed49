// A fresh folder under $TMPDIR (or /tmp) for one test, removed with its
// contents when the object goes away.
#ifndef SWITCHYARD_TESTS_SERVER_STORE_TEMP_DIR_H_
#define SWITCHYARD_TESTS_SERVER_STORE_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace switchyard::server::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != 0 ? base : "/tmp") +
                          "/switchyard-store-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace switchyard::server::testing

#endif  // SWITCHYARD_TESTS_SERVER_STORE_TEMP_DIR_H_
