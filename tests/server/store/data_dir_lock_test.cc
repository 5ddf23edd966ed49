#include "server/store/data_dir_lock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/server/store/temp_dir.h"

namespace switchyard::server {
namespace {

using ::testing::HasSubstr;

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(DataDirLockTest, RecordsPidAndHostAndRefusesASecondHolder) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<DataDirLock>> first = DataDirLock::Acquire(dir.path());
  ASSERT_TRUE(first.ok()) << first.status();
  std::string pid = std::to_string(getpid());
  EXPECT_EQ(ReadFile(dir.File("LOCK")), pid + "\n" + HostName() + "\n");

  // flock is per open file, so a second lock in this process is refused as
  // one from another process would be.
  absl::StatusOr<std::unique_ptr<DataDirLock>> second = DataDirLock::Acquire(dir.path());
  ASSERT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_THAT(second.status().message(),
              HasSubstr(dir.path() + " is in use by another coordinator: pid " + pid +
                        " on host " + HostName()));
  // The refused one leaves the holder's record alone.
  EXPECT_EQ(ReadFile(dir.File("LOCK")), pid + "\n" + HostName() + "\n");
}

TEST(DataDirLockTest, IsFreeAgainOnceReleased) {
  testing::TempDir dir;
  {
    absl::StatusOr<std::unique_ptr<DataDirLock>> first = DataDirLock::Acquire(dir.path());
    ASSERT_TRUE(first.ok()) << first.status();
  }
  absl::StatusOr<std::unique_ptr<DataDirLock>> again = DataDirLock::Acquire(dir.path());
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST(DataDirLockTest, AHolderThatDiedLeavesNoLock) {
  testing::TempDir dir;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Take the lock and die without running any destructor.
    absl::StatusOr<std::unique_ptr<DataDirLock>> lock = DataDirLock::Acquire(dir.path());
    _exit(lock.ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  absl::StatusOr<std::unique_ptr<DataDirLock>> lock = DataDirLock::Acquire(dir.path());
  EXPECT_TRUE(lock.ok()) << lock.status();
}

TEST(DataDirLockTest, AMissingFolderIsAnError) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<DataDirLock>> lock = DataDirLock::Acquire(dir.File("absent"));
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kNotFound) << lock.status();
  EXPECT_THAT(lock.status().message(), HasSubstr(dir.File("absent") + "/LOCK"));
}

}  // namespace
}  // namespace switchyard::server
