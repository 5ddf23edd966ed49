// What a worker offers: its devices, found on the machine or named by
// --devices. "auto" takes every GPU (nvidia-smi, else /proc/driver/nvidia),
// else the CPU. GPU indexes follow PCI bus order, the order nvidia-smi prints
// and CUDA uses under CUDA_DEVICE_ORDER=PCI_BUS_ID (which the daemon sets
// for its trainers), so "cuda:1" is the same board to all three.
//
// Thread safety: pure functions, apart from the probes reading the machine.
#ifndef SWITCHYARD_WORKER_AGENT_DEVICES_H_
#define SWITCHYARD_WORKER_AGENT_DEVICES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace switchyard::worker {

struct DeviceInfo {
  std::string name;           // "cpu" or "cuda:N"
  std::string kind;           // "cpu" or "cuda"
  int index = -1;             // the GPU's index (CUDA_VISIBLE_DEVICES); -1 for the CPU
  int64_t memory_bytes = 0;   // 0 = unknown
  std::string description;    // the CPU or GPU model
};

struct GpuProbe {
  std::vector<DeviceInfo> gpus;  // by index
  std::string cuda_version;      // "12.2" (the driver's), "" when unknown
  std::string source;            // "nvidia-smi", "/proc/driver/nvidia" or "" (none found)
};

// Parses the output of `nvidia-smi --query-gpu=index,name,memory.total
// --format=csv,noheader,nounits` (memory in MiB). INVALID_ARGUMENT for a
// malformed line.
absl::StatusOr<std::vector<DeviceInfo>> ParseNvidiaSmiCsv(std::string_view text);

// "12.2" from nvidia-smi's banner ("... CUDA Version: 12.2 ..."), else "".
std::string ParseCudaVersion(std::string_view nvidia_smi_banner);

// Parses one /proc/driver/nvidia/gpus/*/information file into a device with
// the given index (its "Model:" line is the description).
DeviceInfo ParseProcGpuInformation(std::string_view text, int index);

// Asks nvidia-smi, else reads /proc/driver/nvidia/gpus. Never fails: no GPU
// is an empty probe.
GpuProbe ProbeGpus();

// The CPU as one device: memory from /proc/meminfo, model from /proc/cpuinfo.
DeviceInfo ProbeCpu();

// Resolves the --devices flag: "auto", "cpu", or a comma-separated list of
// "cpu" and "cuda:N". A cuda:N the probe did not find is INVALID_ARGUMENT
// when the probe found GPUs (a typo), and accepted with unknown memory when
// it found none (nvidia-smi may be missing in a container). Repeated names
// and anything else are INVALID_ARGUMENT naming the entry.
absl::StatusOr<std::vector<DeviceInfo>> ResolveDevices(std::string_view spec,
                                                       const GpuProbe& probe,
                                                       const DeviceInfo& cpu);

// What `switchyard-train --probe` reports about its build (docs/worker.md).
struct TrainerProbe {
  std::string libtorch;          // "1.13.0"
  bool cuda_available = false;
  int cuda_device_count = 0;
};

// Parses the probe's output: its last line that is a JSON object with
// "probe": true. INVALID_ARGUMENT, quoting the text, when there is none or a
// field has the wrong type.
absl::StatusOr<TrainerProbe> ParseTrainerProbe(std::string_view text);

// The resolved devices narrowed to those the trainer at `trainer_path` can
// use. Without CUDA in the trainer, "auto" falls back to the CPU (and
// *note says why, for the log); GPUs named in --devices are refused with
// FAILED_PRECONDITION saying why ("--devices cuda:0: the trainer at PATH was
// built without CUDA (LibTorch 1.13.0, cuda_available=false); ..."). With
// CUDA, every device stays.
absl::StatusOr<std::vector<DeviceInfo>> DevicesTheTrainerCanUse(
    std::string_view spec, std::vector<DeviceInfo> devices, const TrainerProbe& trainer,
    const std::string& trainer_path, const DeviceInfo& cpu, std::string* note);

}  // namespace switchyard::worker

#endif  // SWITCHYARD_WORKER_AGENT_DEVICES_H_
