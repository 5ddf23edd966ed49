// Checkpoint bytes on disk under DATA_DIR/checkpoints. An upload is written to
// a temporary name, verified (size and sha256), flushed to disk and renamed
// into place, so a file under its final name is always complete. The
// database row that points at it is written only after the rename.
//
// Thread safety: CheckpointFiles may be used from any thread; one upload
// belongs to one thread.
#ifndef SWITCHYARD_SERVER_CORE_CHECKPOINT_FILES_H_
#define SWITCHYARD_SERVER_CORE_CHECKPOINT_FILES_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/sha256.h"

namespace switchyard::server {

inline constexpr int64_t kMaxCheckpointBytes = int64_t{8} << 30;  // 8 GiB

class CheckpointUpload {
 public:
  ~CheckpointUpload();  // removes the temporary file unless Finish() succeeded
  // INVALID_ARGUMENT when more bytes arrive than announced; UNAVAILABLE when
  // the disk refuses them.
  absl::Status Append(std::string_view bytes);
  // DATA_LOSS when the size or the sha256 differs from the announcement.
  // Returns the path relative to the data dir.
  absl::StatusOr<std::string> Finish();
  int64_t received() const { return received_; }
  const std::string& sha256() const { return expected_sha256_; }

 private:
  friend class CheckpointFiles;
  CheckpointUpload() = default;
  std::string root_, temp_path_, final_relative_;
  std::FILE* file_ = nullptr;
  int64_t expected_bytes_ = 0, received_ = 0;
  std::string expected_sha256_;
  common::Sha256 hash_;
  bool finished_ = false;
};

class CheckpointFiles {
 public:
  // `data_dir` must exist; DATA_DIR/checkpoints is created on demand.
  explicit CheckpointFiles(std::string data_dir);

  absl::StatusOr<std::unique_ptr<CheckpointUpload>> Begin(int64_t job_id, int64_t attempt_id,
                                                          int64_t step, int64_t total_bytes,
                                                          const std::string& sha256);
  std::string AbsolutePath(const std::string& relative) const;
  void Remove(const std::string& relative);  // best effort

 private:
  std::string data_dir_;
};

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_CORE_CHECKPOINT_FILES_H_
