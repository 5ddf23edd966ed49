// switchyard-train: one training job in one process (docs/trainer.md).
// Flags become a TrainerOptions; RunTraining does the work. JSON lines go to
// stdout, human words to stderr; the exit code says how the job ended.
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include <torch/cuda.h>
#include <torch/version.h>

#include "common/config/job_config.h"
#include "worker/train/trainer.h"

namespace {

namespace train = switchyard::worker::train;
namespace config = switchyard::config;

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void OnStopSignal(int) { g_stop.store(true); }

struct Flags {
  train::TrainerOptions trainer;
  int threads = 0;
  bool help = false;
  bool probe = false;
};

// What this build can do, as one JSON line: the daemon asks before it offers
// devices (docs/worker.md). Torch-free callers read it; no torch type leaves.
void PrintProbe(std::ostream& out) {
  nlohmann::json line = nlohmann::json::object();
  line["probe"] = true;
  line["libtorch"] = TORCH_VERSION;
  const bool cuda = torch::cuda::is_available();
  line["cuda_available"] = cuda;
  line["cuda_device_count"] = cuda ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  out << line.dump() << "\n" << std::flush;
}

std::string Dashed(std::string name) {
  for (char& c : name) {
    if (c == '_') c = '-';
  }
  return name;
}

std::string Underscored(std::string name) {
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

void PrintHelp(std::ostream& out) {
  out << R"(usage: switchyard-train [--config FILE] [--KEY VALUE ...] [options]

Trains one model on the IARC task-switching benchmark. Writes one JSON object
per line to stdout (an epoch line per epoch, checkpoint lines, a summary line)
and human-readable progress to stderr. SIGTERM or SIGINT: checkpoint at the
next step boundary and exit 4.

Options:
  --config FILE          job config as a JSON object; flags after it override
  --device D             cpu (default), cuda or cuda:N
  --threads N            LibTorch threads (default: hardware concurrency)
  --kernels K            fused (default; CPU, else reference) or reference:
                         fused attention and feed-forward, oneDNN products
  --checkpoint-dir DIR   write ckpt-<step>.pt here (newest 2 kept)
  --resume               continue from the newest checkpoint in DIR
  --probe                print what this build can do as one JSON line and
                         exit 0: {"probe":true,"libtorch":"1.13.0",
                         "cuda_available":false,"cuda_device_count":0}
  --help                 this text

Exit codes:
  0  done (all epochs, or epochs = 0)
  2  bad flags, config, device name or model spec; nothing trained (the
     job's fault)
  3  training failed: NaN/inf loss, LibTorch error (CUDA out of memory),
     checkpoint I/O error
  4  stopped on request (SIGTERM/SIGINT) after writing a checkpoint
  5  the machine cannot run it: the device is not there (CUDA not
     available in this build or this machine, no such GPU visible); nothing
     trained (not the job's fault)

Job config keys (each also a flag, --key-with-dashes VALUE):
)";
  for (const config::ParamSpec& spec : config::AllParams()) {
    out << "  --" << Dashed(spec.name) << " (" << config::KindName(spec.kind)
        << ", default " << config::ValueToString(spec.default_value) << ")";
    if (!spec.choices.empty()) {
      out << " one of:";
      for (const std::string& choice : spec.choices) out << " " << choice;
    }
    out << "\n      " << spec.help << "\n";
  }
}

// Reads a JSON config file and applies the keys it names to *job.
std::string ApplyConfigFile(const std::string& path, config::JobConfig* job) {
  std::ifstream file(path);
  if (!file) return "--config " + path + ": cannot read the file";
  std::stringstream text;
  text << file.rdbuf();
  config::JobConfig parsed;
  if (std::string error = config::JobConfig::FromJson(text.str(), &parsed);
      !error.empty()) {
    return "--config " + path + ": " + error;
  }
  // FromJson fills every key; only those the file names override flags given
  // before --config.
  nlohmann::json json = nlohmann::json::parse(text.str());
  for (const auto& item : json.items()) {
    if (item.key() == "params") {  // a program's own parameters: Setup refuses them
      for (const auto& [name, value] : parsed.ProgramParams()) {
        job->Set(std::string(config::kProgramParamPrefix) + name, value);
      }
      continue;
    }
    if (std::string error = job->Set(item.key(), parsed.Get(item.key()));
        !error.empty()) {
      return "--config " + path + ": " + error;
    }
  }
  return "";
}

std::string ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      flags->help = true;
      return "";
    }
    if (arg == "--probe") {
      flags->probe = true;
      return "";
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return "unexpected argument '" + arg + "' (flags start with --)";
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    name = Underscored(name);
    if (name == "resume") {
      if (value.has_value()) return "--resume takes no value";
      flags->trainer.resume = true;
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= argc) return "--" + Dashed(name) + " needs a value";
      value = argv[++i];
    }
    if (name == "config") {
      if (std::string error = ApplyConfigFile(*value, &flags->trainer.job);
          !error.empty()) {
        return error;
      }
    } else if (name == "device") {
      flags->trainer.device = *value;
    } else if (name == "kernels") {
      flags->trainer.kernels = *value;
    } else if (name == "checkpoint_dir") {
      flags->trainer.checkpoint_dir = *value;
    } else if (name == "threads") {
      try {
        size_t used = 0;
        flags->threads = std::stoi(*value, &used);
        if (used != value->size() || flags->threads < 1) throw std::exception();
      } catch (const std::exception&) {
        return "threads: expected a positive integer, got '" + *value + "'";
      }
    } else if (config::FindParam(name) != nullptr) {
      if (std::string error = flags->trainer.job.SetFromString(name, *value);
          !error.empty()) {
        return error;
      }
    } else {
      const std::string closest = config::ClosestParam(name);
      return "unknown flag --" + Dashed(name) +
             (closest.empty() ? "" : "; did you mean --" + Dashed(closest) + "?") +
             " (see --help)";
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (std::string error = ParseFlags(argc, argv, &flags); !error.empty()) {
    std::cerr << "switchyard-train: " << error << "\n";
    return train::kExitBadConfig;
  }
  if (flags.help) {
    PrintHelp(std::cout);
    return train::kExitDone;
  }
  if (flags.probe) {
    PrintProbe(std::cout);
    return train::kExitDone;
  }
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  train::KeepFreedMemory();
  train::SetTorchThreads(flags.threads);
  flags.trainer.stop = &g_stop;
  if (const char* stop_file = std::getenv("SWITCHYARD_STOP_FILE")) {
    flags.trainer.epoch_stop_file = stop_file;
  }
  return train::RunTraining(flags.trainer, std::cout, std::cerr);
}
