#include "server/core/checkpoint_files.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace switchyard::server {
namespace {

bool IsHexSha256(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status DiskError(const char* what, const std::string& path) {
  // Full disks and I/O errors are conditions to retry later, not bugs.
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

CheckpointUpload::~CheckpointUpload() {
  if (file_ != nullptr) std::fclose(file_);
  if (!finished_ && !temp_path_.empty()) std::remove(temp_path_.c_str());
}

absl::Status CheckpointUpload::Append(std::string_view bytes) {
  if (received_ + static_cast<int64_t>(bytes.size()) > expected_bytes_) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: more than the announced ",
                                                   expected_bytes_, " bytes"));
  }
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return DiskError("cannot write", temp_path_);
  }
  hash_.Update(bytes);
  received_ += static_cast<int64_t>(bytes.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> CheckpointUpload::Finish() {
  if (received_ != expected_bytes_) {
    return absl::DataLossError(absl::StrCat("checkpoint: received ", received_, " of ",
                                            expected_bytes_, " announced bytes"));
  }
  std::string digest = hash_.HexDigest();
  if (digest != expected_sha256_) {
    return absl::DataLossError(absl::StrCat("checkpoint: sha256 is ", digest, ", announced ",
                                            expected_sha256_));
  }
  // Flushed to disk before the rename, so the final name never points at a
  // partial file after a crash.
  if (std::fflush(file_) != 0 || fsync(fileno(file_)) != 0) {
    return DiskError("cannot flush", temp_path_);
  }
  std::fclose(file_);
  file_ = nullptr;
  std::string final_path = absl::StrCat(root_, "/", final_relative_);
  if (std::rename(temp_path_.c_str(), final_path.c_str()) != 0) {
    return DiskError("cannot rename", temp_path_);
  }
  finished_ = true;
  return final_relative_;
}

CheckpointFiles::CheckpointFiles(std::string data_dir) : data_dir_(std::move(data_dir)) {}

absl::StatusOr<std::unique_ptr<CheckpointUpload>> CheckpointFiles::Begin(
    int64_t job_id, int64_t attempt_id, int64_t step, int64_t total_bytes,
    const std::string& sha256) {
  if (total_bytes <= 0 || total_bytes > kMaxCheckpointBytes) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: total_bytes ", total_bytes,
                                                   " is out of range [1, ", kMaxCheckpointBytes,
                                                   "]"));
  }
  if (!IsHexSha256(sha256)) {
    return absl::InvalidArgumentError("checkpoint: sha256 must be 64 lowercase hex digits");
  }
  if (step < 0) return absl::InvalidArgumentError("checkpoint: step must be >= 0");
  std::string directory = absl::StrCat("checkpoints/job-", job_id);
  std::error_code error;
  std::filesystem::create_directories(absl::StrCat(data_dir_, "/", directory), error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot create ", data_dir_, "/", directory, ": ",
                                               error.message()));
  }
  auto upload = std::unique_ptr<CheckpointUpload>(new CheckpointUpload());
  upload->root_ = data_dir_;
  upload->final_relative_ =
      absl::StrCat(directory, "/step-", step, "-attempt-", attempt_id, ".ckpt");
  upload->temp_path_ = absl::StrCat(data_dir_, "/", upload->final_relative_, ".partial");
  upload->expected_bytes_ = total_bytes;
  upload->expected_sha256_ = sha256;
  upload->file_ = std::fopen(upload->temp_path_.c_str(), "wb");
  if (upload->file_ == nullptr) return DiskError("cannot create", upload->temp_path_);
  return upload;
}

std::string CheckpointFiles::AbsolutePath(const std::string& relative) const {
  return absl::StrCat(data_dir_, "/", relative);
}

void CheckpointFiles::Remove(const std::string& relative) {
  std::remove(AbsolutePath(relative).c_str());
}

}  // namespace switchyard::server
