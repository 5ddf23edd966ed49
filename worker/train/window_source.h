// Where a job's training and evaluation windows come from: IARC's window
// sampler, or a separation task's question sampler, behind one interface, so
// the training loop, the loss and the metrics are the same for every task.
//
// A window is a tasks::WindowBatch row either way. For a separation task
// (common/tasks/separations.h) the targets are -1 (not scored) at every
// position but the last, which holds the answer, and the rules are kNone:
// the cross-entropy's ignore_index and EvalCounts then score the answer
// alone, and `accuracy` is the answer's accuracy (docs/tasks.md).
//
// Torch-free. Thread safety: a WindowSource is not synchronised; one per
// thread.
#ifndef SWITCHYARD_WORKER_TRAIN_WINDOW_SOURCE_H_
#define SWITCHYARD_WORKER_TRAIN_WINDOW_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "common/config/job_config.h"
#include "common/tasks/iarc.h"

namespace switchyard::worker::train {

class WindowSource {
 public:
  virtual ~WindowSource() = default;
  // Overwrites *out with `batch` new windows; reuses its memory.
  virtual void Sample(int batch, tasks::WindowBatch* out) = 0;
  // The sampler's whole state, printable; LoadState returns false (changing
  // nothing) on a malformed state.
  virtual std::string SaveState() const = 0;
  virtual bool LoadState(const std::string& state) = 0;
};

// The windows of `job`'s task, seeded by `seed`. Requires a job that
// config::JobConfig::Validate() accepts.
std::unique_ptr<WindowSource> MakeWindowSource(const config::JobConfig& job, uint64_t seed);

// A short description of the task for the trainer's log: "tasks IARC",
// "dyck length 50 depth 2".
std::string DescribeTask(const config::JobConfig& job);

}  // namespace switchyard::worker::train

#endif  // SWITCHYARD_WORKER_TRAIN_WINDOW_SOURCE_H_
