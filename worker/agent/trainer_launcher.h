// How the daemon starts switchyard-train processes, behind an interface so
// that the job runner is tested without processes (tests/worker/agent/fakes.h
// holds a scripted fake; process_launcher.h is the real fork/exec one).
#ifndef SWITCHYARD_WORKER_AGENT_TRAINER_LAUNCHER_H_
#define SWITCHYARD_WORKER_AGENT_TRAINER_LAUNCHER_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace switchyard::worker {

struct TrainerSpec {
  std::string program;                 // path of switchyard-train
  std::vector<std::string> args;       // after argv[0]
  // Set on top of the daemon's own environment (replacing a variable of the
  // same name), e.g. CUDA_VISIBLE_DEVICES and OMP_NUM_THREADS.
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;             // the attempt's own folder
};

// How a trainer process ended.
struct ExitInfo {
  bool signaled = false;  // killed by a signal (then `signal`), else exited with `code`
  int code = 0;
  int signal = 0;
  // "exit code 3" or "killed by signal 9 (Killed)".
  std::string Describe() const;
};

// One running trainer. ReadLine and Wait are called by one thread (the job's
// runner); Terminate and Kill may be called from any thread, also after the
// process ended (then they do nothing).
class TrainerProcess {
 public:
  enum class ReadResult { kLine, kTimeout, kEof };

  virtual ~TrainerProcess() = default;

  // The next line of stdout without its newline, kTimeout when none came
  // within `timeout`, kEof once stdout is closed and every line was returned.
  // Stderr is collected meanwhile (see StderrTail).
  virtual ReadResult ReadLine(absl::Duration timeout, std::string* line) = 0;
  // SIGTERM to the trainer: it writes a checkpoint and exits with code 4.
  virtual void Terminate() = 0;
  // SIGKILL to the trainer's whole process group.
  virtual void Kill() = 0;
  // Waits up to `timeout` for the process to end; the last lines of stderr
  // are collected before it returns. std::nullopt while it still runs.
  virtual std::optional<ExitInfo> Wait(absl::Duration timeout) = 0;
  // The end of what the trainer wrote to stderr: at most `max_bytes`,
  // starting at a line boundary where there is one.
  virtual std::string StderrTail(size_t max_bytes) const = 0;
};

// Thread-safe: several slots launch at once.
class TrainerLauncher {
 public:
  virtual ~TrainerLauncher() = default;
  // UNAVAILABLE (naming the program and the reason) when the process could
  // not be started; nothing is left running then.
  virtual absl::StatusOr<std::unique_ptr<TrainerProcess>> Launch(const TrainerSpec& spec) = 0;
};

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_TRAINER_LAUNCHER_H_
