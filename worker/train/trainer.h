// One training job (docs/trainer.md): Adam on fresh IARC windows every step,
// an evaluation on a fixed held-out set after every epoch, JSON lines on
// `out`, checkpoints in a folder, and a cooperative stop.
//
// Output contract (one JSON object per line on `out`, flushed per line):
//   {"epoch":E,"step":S,"loss":..,"eval_loss":..,"accuracy":..,
//    "accuracy_last":..,"accuracy_I":..,"accuracy_A":..,"accuracy_R":..,
//    "accuracy_C":..,"samples_per_sec":..}         after every epoch
//   {"checkpoint":"<path>","step":S}               a checkpoint is complete
//   {"summary":true,"parameters":P,"epochs":E,"step":S,"final":{..}|null,
//    "wall_seconds":..}                            at the end of a finished job
//   {"error":"..","exit_code":3,"step":S}          on a training failure
// Human-readable progress and errors go to `log`.
//
// Threads: RunTraining runs on the calling thread; LibTorch parallelises
// inside ops (see SetTorchThreads). `stop` may be set from any thread or a
// signal handler. Errors: the return value is an ExitCode; no exception
// escapes (LibTorch errors, CUDA out-of-memory included, are caught here).
#ifndef SWITCHYARD_WORKER_TRAIN_TRAINER_H_
#define SWITCHYARD_WORKER_TRAIN_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "common/config/job_config.h"

namespace switchyard::worker::train {

// Process exit codes of switchyard-train.
enum ExitCode : int {
  kExitDone = 0,       // all epochs done (or epochs = 0)
  kExitBadConfig = 2,  // bad flags, config, device name or spec; nothing trained
  kExitFailed = 3,     // NaN/inf loss, LibTorch error (CUDA OOM), I/O failure
  kExitStopped = 4,    // stop requested: checkpoint written, then exited
  // The machine cannot run it: the device asked for is not there (a
  // CPU-only LibTorch, no such GPU visible). Not the job's fault.
  kExitEnvironment = 5,
};

struct TrainerOptions {
  config::JobConfig job;       // RunTraining resolves defaults and validates it
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"
  std::string checkpoint_dir;  // "" = no checkpoints
  bool resume = false;         // continue from the newest checkpoint in dir
  // "fused" or "reference" (models::KernelPath): which kernels compute the
  // model. Not part of the job config: both give the same results up to
  // float rounding, so a job may resume on the other.
  std::string kernels = "fused";
  int keep_checkpoints = 2;
  // Polled at every step boundary; when true, a checkpoint is written and
  // RunTraining returns kExitStopped. Not owned; may be null.
  const std::atomic<bool>* stop = nullptr;
  // A file whose existence asks for a stop at the next epoch boundary (the
  // sweep's scheduler; the worker names it in SWITCHYARD_STOP_FILE): after
  // that epoch's line and checkpoint the run exits kExitStopped, unless it
  // was the last epoch. Empty: none.
  std::string epoch_stop_file;
  // Called after every completed step with the global step (tests use it to
  // request a stop at a chosen step). May be empty.
  std::function<void(int64_t global_step)> after_step;
};

int RunTraining(const TrainerOptions& options, std::ostream& out,
                std::ostream& log);

// Sets LibTorch's intra-op threads to `threads` (<= 0: the hardware
// concurrency) and, the first time only, its inter-op threads, which LibTorch
// allows to be set once per process before any inter-op work. Returns the
// intra-op count in effect. Call from the main thread before training.
int SetTorchThreads(int threads);

// Asks glibc's malloc to keep freed memory for reuse: no mmap for large
// blocks and no trimming of the heap. LibTorch's CPU allocator has no cache,
// so every step allocates and frees the same large activations (125 MB per
// feed-forward activation of the paper transformer at batch 500); where page
// faults are slow (VMs, sandboxes) faulting them in again each step costs
// more than the arithmetic (9x on the paper transformer on the development
// machine). The process then keeps its peak heap until it exits, which
// suits one job per process. Process-wide; call once from main before
// training. A no-op without glibc.
void KeepFreedMemory();

}  // namespace switchyard::worker::train

#endif  // SWITCHYARD_WORKER_TRAIN_TRAINER_H_
