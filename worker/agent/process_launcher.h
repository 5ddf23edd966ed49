// The real TrainerLauncher: fork and exec of switchyard-train.
//
// Each trainer runs in a process group of its own, with stdin from
// /dev/null, stdout and stderr on pipes, its signal mask and handlers reset
// (the daemon blocks SIGTERM/SIGINT for sigwait; a trainer must receive
// them), and PR_SET_PDEATHSIG = SIGKILL, so that a daemon killed with -9
// leaves no orphan holding a GPU. The parent-death signal fires when the
// *thread* that forked ends, so the thread that calls Launch must outlive
// the process: the job runner's thread does (it waits for the trainer).
//
// Thread safety: Launch may be called from any thread at once.
#ifndef SWITCHYARD_WORKER_AGENT_PROCESS_LAUNCHER_H_
#define SWITCHYARD_WORKER_AGENT_PROCESS_LAUNCHER_H_

#include <string>

#include "absl/status/statusor.h"
#include "worker/agent/trainer_launcher.h"

namespace switchyard::worker {

class ProcessTrainerLauncher : public TrainerLauncher {
 public:
  absl::StatusOr<std::unique_ptr<TrainerProcess>> Launch(const TrainerSpec& spec) override;
};

// SIGKILL to the process group of every trainer this process started and has
// not reaped yet. For the daemon's last moments (a second signal, the drain
// deadline). Thread-safe.
void KillAllTrainers();

// Runs `program args...` to completion with stdout captured (stderr dropped),
// killing it after `timeout`. For short probes such as `nvidia-smi` and
// `switchyard-train --version`. NOT_FOUND when the program cannot be started,
// DEADLINE_EXCEEDED on a timeout, UNKNOWN for a non-zero exit.
absl::StatusOr<std::string> RunAndCapture(const std::string& program,
                                          const std::vector<std::string>& args,
                                          absl::Duration timeout);

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_PROCESS_LAUNCHER_H_
