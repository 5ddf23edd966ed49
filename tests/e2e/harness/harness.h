// A small harness for end-to-end tests: real processes (the coordinator, the
// worker daemons and, through them, the trainers) on loopback ports the
// coordinator picks, folders of their own, and a SweepService client.
//
// Every process is started with PR_SET_PDEATHSIG = SIGKILL, so a test that
// crashes or times out leaves nothing behind (the daemons' trainers follow
// their daemon the same way). Logs go to files in the test's folder; on a
// failure their tails are printed and the folder is kept.
//
// Thread safety: none; one test thread drives a harness.
#ifndef SWITCHYARD_TESTS_E2E_HARNESS_HARNESS_H_
#define SWITCHYARD_TESTS_E2E_HARNESS_HARNESS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/job_config.h"
#include "switchyard/v1/switchyard.grpc.pb.h"

namespace switchyard::e2e {

namespace v1 = ::switchyard::v1;

// The folder of the binaries under test: $SWITCHYARD_BIN_DIR, else the build's
// bin folder (compiled in).
std::string BinDir();

// A fresh folder under $TMPDIR, removed on destruction unless `keep()` was
// called or $KEEP_WORK is set.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  void keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

// One child process with stdout and stderr in files.
class Process {
 public:
  // Starts `program args...`; NOT_FOUND when it cannot be started.
  static absl::StatusOr<std::unique_ptr<Process>> Start(
      const std::string& program, const std::vector<std::string>& args,
      const std::string& stdout_path, const std::string& stderr_path,
      const std::vector<std::pair<std::string, std::string>>& env = {});
  ~Process();  // SIGKILL and reap when still running

  pid_t pid() const { return pid_; }
  void Signal(int signal);
  // Waits up to `timeout` for the exit; the wait status, or nullopt.
  std::optional<int> Wait(absl::Duration timeout);
  bool Running();
  // The exit status once ended (see Wait), else nullopt.
  std::optional<int> status() const { return status_; }

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::optional<int> status_;
};

std::string ReadFile(const std::string& path);
// Waits until the file holds `text` `count` times; false after `timeout`.
bool WaitForText(const std::string& path, const std::string& text,
                 absl::Duration timeout, int count = 1);
int CountText(const std::string& path, const std::string& text);
// The last `lines` lines of a file.
std::string Tail(const std::string& path, int lines = 40);

// Pids of live processes whose command line contains `needle` (e.g. a
// worker's work folder, which every trainer of that worker has in its
// arguments).
std::vector<pid_t> ProcessesWithArg(const std::string& needle);

// Waits until `pred()` holds, polling every 100 ms.
bool WaitUntil(const std::function<bool()>& pred, absl::Duration timeout);

struct CoordinatorOptions {
  double lease_seconds = 3;
  double heartbeat_seconds = 1;
};

// A switchyard-coordinator on a data folder of its own.
class Coordinator {
 public:
  Coordinator(std::string data_dir, std::string log_dir, CoordinatorOptions options = {});
  ~Coordinator();

  // Starts it on a free port (the first time) or on the port it had before
  // (a restart on the same data folder), and waits for "listening on".
  absl::Status Start();
  void Kill9();
  // SIGTERM and wait.
  void Stop();
  const std::string& address() const { return address_; }
  std::string client_token_file() const { return data_dir_ + "/client.token"; }
  std::string worker_token_file() const { return data_dir_ + "/worker.token"; }
  std::string log_path() const;
  Process* process() { return process_.get(); }

 private:
  std::string data_dir_, log_dir_;
  CoordinatorOptions options_;
  std::string address_;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
};

struct WorkerOptions {
  std::string name;
  int slots = 2;
  int threads_per_slot = 1;
  double drain_timeout = 30;
  std::vector<std::string> extra_flags;
};

// A switchyard-worker with CPU slots and a work folder of its own.
class Worker {
 public:
  Worker(const Coordinator& coordinator, std::string log_dir, WorkerOptions options);
  ~Worker();
  absl::Status Start();
  void Signal(int signal) { process_->Signal(signal); }
  std::optional<int> Wait(absl::Duration timeout) { return process_->Wait(timeout); }
  bool Running() { return process_ != nullptr && process_->Running(); }
  const std::string& name() const { return options_.name; }
  std::string log_path() const;
  const std::string& work_dir() const { return work_dir_; }
  bool WaitForLog(const std::string& text, absl::Duration timeout, int count = 1) const {
    return WaitForText(log_path(), text, timeout, count);
  }

 private:
  const Coordinator& coordinator_;
  std::string log_dir_;
  WorkerOptions options_;
  std::string work_dir_;
  std::unique_ptr<Process> process_;
};

// A parameter value for a sweep axis.
using Value = config::Value;
v1::Axis Axis(const std::string& key, const std::vector<Value>& values);
// The small, fast job every e2e sweep starts from (preset small, few steps,
// a small evaluation set), plus `axes` (which may override any key).
v1::SweepSpec TinySweep(const std::string& name, std::vector<v1::Axis> axes);

// SweepService with the client token.
class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const Coordinator& coordinator);

  absl::StatusOr<int64_t> Submit(const v1::SweepSpec& spec);
  absl::StatusOr<v1::Sweep> GetSweep(int64_t sweep_id);
  absl::StatusOr<std::vector<v1::Job>> ListJobs(int64_t sweep_id);
  absl::StatusOr<v1::Job> GetJob(int64_t job_id);  // with attempts
  absl::StatusOr<std::vector<v1::JobMetricPoint>> QueryMetrics(int64_t sweep_id);
  absl::StatusOr<v1::CancelResponse> CancelSweep(int64_t sweep_id);
  // Polls GetSweep until the sweep is finished; its last state, or an error
  // after `timeout`. Coordinator outages are waited out.
  absl::StatusOr<v1::Sweep> WaitForSweep(int64_t sweep_id, absl::Duration timeout);

 private:
  explicit Client(std::unique_ptr<v1::SweepService::Stub> stub) : stub_(std::move(stub)) {}
  std::unique_ptr<v1::SweepService::Stub> stub_;
};

// (job, name) -> steps, from a QueryMetrics answer, for gap and duplicate
// checks.
std::map<std::pair<int64_t, std::string>, std::vector<int64_t>> StepsByJobAndName(
    const std::vector<v1::JobMetricPoint>& points);

}  // namespace switchyard::e2e

#endif  // SWITCHYARD_TESTS_E2E_HARNESS_HARNESS_H_
