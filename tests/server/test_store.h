// What the server tests that need a real store share: a fresh folder named
// after the running test, and a SqliteStore in it.
#ifndef SWITCHYARD_TESTS_SERVER_TEST_STORE_H_
#define SWITCHYARD_TESTS_SERVER_TEST_STORE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/store/sqlite/database.h"
#include "server/store/sqlite_store.h"

namespace switchyard::server {

// TMPDIR/<prefix><pid>_<test name>, emptied and created. The caller removes it.
inline std::filesystem::path FreshTestDir(const std::string& prefix) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      (prefix + std::to_string(getpid()) + "_" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// DIR/switchyard.db with synchronous=NORMAL: the tests do not need fsyncs to
// be durable against power loss, and run faster without them.
inline absl::StatusOr<std::unique_ptr<SqliteStore>> OpenTestStore(
    const std::filesystem::path& dir) {
  SqliteStore::Options options;
  options.path = (dir / "switchyard.db").string();
  options.synchronous = sqlite::Synchronous::kNormal;
  return SqliteStore::Open(options);
}

}  // namespace switchyard::server

#endif  // SWITCHYARD_TESTS_SERVER_TEST_STORE_H_
