#include "worker/agent/devices.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "worker/agent/process_launcher.h"

namespace switchyard::worker {
namespace {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Debian's Abseil has its own string_view, distinct from std::string_view.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Trimmed(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

}  // namespace

absl::StatusOr<std::vector<DeviceInfo>> ParseNvidiaSmiCsv(std::string_view text) {
  std::vector<DeviceInfo> gpus;
  for (absl::string_view line : absl::StrSplit(A(text), '\n', absl::SkipWhitespace())) {
    std::vector<std::string> fields;
    for (absl::string_view f : absl::StrSplit(line, ',')) fields.push_back(Trimmed(f));
    // Model names may hold commas: index first, memory last, name between.
    int index = 0;
    int64_t mib = 0;
    if (fields.size() < 3 || !absl::SimpleAtoi(fields.front(), &index) || index < 0) {
      return absl::InvalidArgumentError(absl::StrCat("nvidia-smi: cannot read '", line, "'"));
    }
    if (!absl::SimpleAtoi(fields.back(), &mib)) mib = 0;  // "[N/A]" on some boards
    std::string name;
    for (size_t i = 1; i + 1 < fields.size(); ++i) {
      if (i > 1) name += ",";
      name += fields[i];
    }
    DeviceInfo gpu;
    gpu.name = absl::StrCat("cuda:", index);
    gpu.kind = "cuda";
    gpu.index = index;
    gpu.memory_bytes = mib * (int64_t{1} << 20);
    gpu.description = name;
    gpus.push_back(std::move(gpu));
  }
  std::sort(gpus.begin(), gpus.end(),
            [](const DeviceInfo& a, const DeviceInfo& b) { return a.index < b.index; });
  return gpus;
}

std::string ParseCudaVersion(std::string_view banner) {
  constexpr absl::string_view kKey = "CUDA Version:";
  absl::string_view text = A(banner);
  size_t at = text.find(kKey);
  if (at == absl::string_view::npos) return "";
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(text.substr(at + kKey.size()));
  size_t end = 0;
  while (end < rest.size() && (absl::ascii_isdigit(static_cast<unsigned char>(rest[end])) ||
                               rest[end] == '.')) {
    ++end;
  }
  return std::string(rest.substr(0, end));
}

DeviceInfo ParseProcGpuInformation(std::string_view text, int index) {
  DeviceInfo gpu;
  gpu.name = absl::StrCat("cuda:", index);
  gpu.kind = "cuda";
  gpu.index = index;
  for (absl::string_view line : absl::StrSplit(A(text), '\n')) {
    if (absl::ConsumePrefix(&line, "Model:")) gpu.description = Trimmed(line);
  }
  return gpu;
}

GpuProbe ProbeGpus() {
  GpuProbe probe;
  absl::StatusOr<std::string> csv = RunAndCapture(
      "nvidia-smi", {"--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"},
      absl::Seconds(20));
  if (csv.ok()) {
    absl::StatusOr<std::vector<DeviceInfo>> gpus = ParseNvidiaSmiCsv(*csv);
    if (gpus.ok() && !gpus->empty()) {
      probe.gpus = *std::move(gpus);
      probe.source = "nvidia-smi";
      absl::StatusOr<std::string> banner = RunAndCapture("nvidia-smi", {}, absl::Seconds(20));
      if (banner.ok()) probe.cuda_version = ParseCudaVersion(*banner);
      return probe;
    }
  }
  // No nvidia-smi (a slim container): the driver still lists its boards.
  std::error_code error;
  std::vector<std::string> boards;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", error)) {
    boards.push_back(entry.path().string());
  }
  std::sort(boards.begin(), boards.end());  // PCI bus ids: the CUDA order under PCI_BUS_ID
  for (size_t i = 0; i < boards.size(); ++i) {
    probe.gpus.push_back(
        ParseProcGpuInformation(ReadSmallFile(boards[i] + "/information"), static_cast<int>(i)));
  }
  if (!probe.gpus.empty()) probe.source = "/proc/driver/nvidia";
  return probe;
}

DeviceInfo ProbeCpu() {
  DeviceInfo cpu;
  cpu.name = "cpu";
  cpu.kind = "cpu";
  for (absl::string_view line : absl::StrSplit(ReadSmallFile("/proc/meminfo"), '\n')) {
    if (absl::ConsumePrefix(&line, "MemTotal:")) {
      absl::ConsumeSuffix(&line, "kB");
      int64_t kib = 0;
      if (absl::SimpleAtoi(Trimmed(line), &kib)) cpu.memory_bytes = kib * 1024;
    }
  }
  for (absl::string_view line : absl::StrSplit(ReadSmallFile("/proc/cpuinfo"), '\n')) {
    if (absl::StartsWith(line, "model name")) {
      size_t colon = line.find(':');
      if (colon != absl::string_view::npos) cpu.description = Trimmed(line.substr(colon + 1));
      break;
    }
  }
  return cpu;
}

absl::StatusOr<std::vector<DeviceInfo>> ResolveDevices(std::string_view spec,
                                                       const GpuProbe& probe,
                                                       const DeviceInfo& cpu) {
  std::string trimmed = Trimmed(A(spec));
  if (trimmed == "auto") {
    if (!probe.gpus.empty()) return probe.gpus;
    return std::vector<DeviceInfo>{cpu};
  }
  std::vector<DeviceInfo> devices;
  std::set<std::string> seen;
  for (absl::string_view raw : absl::StrSplit(trimmed, ',')) {
    std::string entry = Trimmed(raw);
    if (!seen.insert(entry).second) {
      return absl::InvalidArgumentError(absl::StrCat("--devices: ", entry, " is named twice"));
    }
    if (entry == "cpu") {
      devices.push_back(cpu);
      continue;
    }
    absl::string_view number = entry;
    int index = -1;
    if (!absl::ConsumePrefix(&number, "cuda:") || !absl::SimpleAtoi(number, &index) ||
        index < 0 || index > 1023) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--devices: '", entry, "' is not a device; expected auto, cpu or cuda:N[,cuda:M...]"));
    }
    auto found = std::find_if(probe.gpus.begin(), probe.gpus.end(),
                              [&](const DeviceInfo& g) { return g.index == index; });
    if (found != probe.gpus.end()) {
      devices.push_back(*found);
    } else if (probe.gpus.empty()) {
      DeviceInfo gpu;
      gpu.name = absl::StrCat("cuda:", index);
      gpu.kind = "cuda";
      gpu.index = index;
      devices.push_back(std::move(gpu));
    } else {
      std::string known;
      for (const DeviceInfo& g : probe.gpus) absl::StrAppend(&known, known.empty() ? "" : ", ", g.name);
      return absl::InvalidArgumentError(
          absl::StrCat("--devices: ", entry, " is not on this machine; found ", known));
    }
  }
  if (devices.empty()) return absl::InvalidArgumentError("--devices: names no device");
  return devices;
}

absl::StatusOr<TrainerProbe> ParseTrainerProbe(std::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(A(text), '\n', absl::SkipWhitespace());
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    const nlohmann::json json =
        nlohmann::json::parse(it->begin(), it->end(), nullptr, /*allow_exceptions=*/false);
    if (!json.is_object() || json.value("probe", false) != true) continue;
    const auto libtorch = json.find("libtorch");
    const auto cuda = json.find("cuda_available");
    const auto count = json.find("cuda_device_count");
    if (libtorch == json.end() || !libtorch->is_string() || cuda == json.end() ||
        !cuda->is_boolean() || count == json.end() || !count->is_number_integer()) {
      break;
    }
    TrainerProbe probe;
    probe.libtorch = libtorch->get<std::string>();
    probe.cuda_available = cuda->get<bool>();
    probe.cuda_device_count = count->get<int>();
    return probe;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("not a probe report: '", A(text).substr(0, 300), "'"));
}

absl::StatusOr<std::vector<DeviceInfo>> DevicesTheTrainerCanUse(
    std::string_view spec, std::vector<DeviceInfo> devices, const TrainerProbe& trainer,
    const std::string& trainer_path, const DeviceInfo& cpu, std::string* note) {
  note->clear();
  if (trainer.cuda_available) return devices;
  std::vector<std::string> gpus;
  for (const DeviceInfo& d : devices) {
    if (d.kind == "cuda") gpus.push_back(d.name);
  }
  if (gpus.empty()) return devices;
  const std::string why =
      absl::StrCat("the trainer at ", trainer_path, " was built without CUDA (LibTorch ",
                   trainer.libtorch, ", cuda_available=false)");
  if (Trimmed(A(spec)) == "auto") {
    *note = absl::StrCat("found ", gpus.size(), " GPU(s) (", absl::StrJoin(gpus, ", "),
                         "), but ", why, "; offering the CPU only. Install a CUDA build of "
                         "switchyard-train (or pass --trainer) to use them");
    return std::vector<DeviceInfo>{cpu};
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "--devices ", absl::StrJoin(gpus, ","), ": ", why,
      "; every job given to it would fail. Install a CUDA build of switchyard-train (or pass "
      "--trainer), or offer --devices cpu"));
}

}  // namespace switchyard::worker
