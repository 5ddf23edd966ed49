// switchyard-worker: the worker daemon. Flags become a Config; main wires the
// gRPC client, the process launcher and the daemon together, and turns
// SIGTERM/SIGINT into a drain (a second signal exits at once).
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/flags.h"
#include "common/base/log.h"
#include "common/config/job_config.h"
#include "common/metrics/prometheus.h"
#include "common/base/sha256.h"
#include "common/rpc/auth.h"
#include "common/rpc/channel.h"
#include "worker/agent/daemon.h"
#include "worker/agent/devices.h"
#include "worker/agent/grpc_coordinator_client.h"
#include "worker/agent/process_launcher.h"
#include "worker/agent/worker_metrics.h"

#ifndef SWITCHYARD_VERSION
#define SWITCHYARD_VERSION "unknown"
#endif

ABSL_FLAG(std::string, coordinator, "", "HOST:PORT of the coordinator (required)");
ABSL_FLAG(std::string, token_file, "",
          "file holding the worker token (default: the SWITCHYARD_TOKEN environment variable)");
ABSL_FLAG(std::string, devices, "auto",
          "auto (every GPU, else the CPU), cpu, or a list such as cuda:0,cuda:1");
ABSL_FLAG(int32_t, slots_per_device, 1, "jobs run at once on each device");
ABSL_FLAG(int32_t, threads_per_slot, 0,
          "CPU threads per job (0 = the machine's cores divided by the slots)");
ABSL_FLAG(std::string, work_dir, "",
          "folder for the jobs' configs, checkpoints and metric spill files "
          "(default: /tmp/switchyard-worker-NAME)");
ABSL_FLAG(std::string, name, "", "the worker's name (default: the host name)");
ABSL_FLAG(double, drain_timeout, 60,
          "seconds a drain (SIGTERM/SIGINT) may take before the daemon exits anyway");
ABSL_FLAG(std::string, trainer, "",
          "path of switchyard-train (default: beside this program)");
ABSL_FLAG(bool, probe_trainer, true,
          "ask the trainer (switchyard-train --probe) whether it has CUDA before offering "
          "GPUs; --probe_trainer=false skips that (a testing aid: it lets a worker offer "
          "devices its trainer cannot use, to exercise the environment-error path)");
ABSL_FLAG(bool, tls, false, "connect with TLS, trusting the system's roots");
ABSL_FLAG(std::string, tls_ca, "", "connect with TLS, trusting this CA file (PEM)");
ABSL_FLAG(std::string, metrics_listen, "",
          "serve Prometheus metrics on HOST:PORT/metrics (default: off)");

namespace switchyard::worker {
namespace {

struct Config {
  std::string coordinator;
  std::string token;
  std::string devices_spec;
  int slots_per_device = 1;
  int threads_per_slot = 0;
  std::string work_dir;
  std::string name;
  std::string hostname;
  absl::Duration drain_timeout;
  std::string trainer;
  std::map<std::string, std::string> programs;  // --program NAME=PATH
  bool probe_trainer = true;
  bool tls = false;
  std::string tls_ca;
  std::string metrics_listen;
};

std::string HostName() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "localhost";
  return buffer;
}

std::string SelfDir() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return ".";
  return self.parent_path().string();
}

// --program NAME=PATH, repeatable (Abseil flags keep only the last of a
// repeated flag): taken out of argv before Abseil parses the rest.
std::vector<std::string>& ProgramFlags() {
  static std::vector<std::string> values;
  return values;
}

std::vector<std::string> TakeProgramFlags(int argc, char** argv) {
  std::vector<std::string> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      rest.insert(rest.end(), argv + i, argv + argc);
      break;
    }
    if (arg == "--program" || arg == "-program") {
      ProgramFlags().push_back(i + 1 < argc ? argv[++i] : "");
    } else if (arg.rfind("--program=", 0) == 0 || arg.rfind("-program=", 0) == 0) {
      ProgramFlags().push_back(arg.substr(arg.find('=') + 1));
    } else {
      rest.push_back(arg);
    }
  }
  return rest;
}

// Each --program NAME=PATH: a valid name, not the built-in trainer's, given
// once, and an executable file (its absolute path is what runs).
absl::Status ParsePrograms(Config* config) {
  for (const std::string& value : ProgramFlags()) {
    const size_t equals = value.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == value.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--program: expected NAME=PATH, got '", value, "'"));
    }
    const std::string name = value.substr(0, equals);
    std::string path = value.substr(equals + 1);
    if (std::string error = config::CheckProgramName("--program", name); !error.empty()) {
      return absl::InvalidArgumentError(error);
    }
    if (name == config::kBuiltinProgram) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--program: ", name, " is the built-in trainer; --trainer PATH sets its file"));
    }
    path = std::filesystem::absolute(path).lexically_normal().string();
    struct stat info {};
    if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
        access(path.c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("--program ", name, "=", path,
                                              ": not an executable file (chmod +x it, and give "
                                              "a script a #! line)"));
    }
    if (!config->programs.emplace(name, path).second) {
      return absl::InvalidArgumentError(absl::StrCat("--program: ", name, " is given twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> ConfigFromFlags() {
  Config config;
  if (absl::Status status = ParsePrograms(&config); !status.ok()) return status;
  config.coordinator = absl::GetFlag(FLAGS_coordinator);
  if (config.coordinator.empty() || config.coordinator.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError("--coordinator: expected HOST:PORT");
  }
  absl::StatusOr<std::string> token = common::TokenFromFlagOrEnv(absl::GetFlag(FLAGS_token_file));
  if (!token.ok()) return token.status();
  config.token = *token;
  config.devices_spec = absl::GetFlag(FLAGS_devices);
  config.slots_per_device = absl::GetFlag(FLAGS_slots_per_device);
  if (config.slots_per_device < 1 || config.slots_per_device > 256) {
    return absl::InvalidArgumentError("--slots-per-device: must be in [1, 256]");
  }
  config.threads_per_slot = absl::GetFlag(FLAGS_threads_per_slot);
  if (config.threads_per_slot < 0 || config.threads_per_slot > 1024) {
    return absl::InvalidArgumentError("--threads-per-slot: must be in [0, 1024]");
  }
  config.hostname = HostName();
  config.name = absl::GetFlag(FLAGS_name);
  if (config.name.empty()) config.name = config.hostname;
  if (config.name.size() > 200) return absl::InvalidArgumentError("--name: at most 200 characters");
  config.work_dir = absl::GetFlag(FLAGS_work_dir);
  if (config.work_dir.empty()) {
    std::string safe = config.name;
    std::replace_if(safe.begin(), safe.end(),
                    [](char c) { return !absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
                                        c != '-' && c != '_' && c != '.'; },
                    '_');
    config.work_dir = "/tmp/switchyard-worker-" + safe;
  }
  config.work_dir = std::filesystem::absolute(config.work_dir).lexically_normal().string();
  double drain = absl::GetFlag(FLAGS_drain_timeout);
  if (!(drain >= 1 && drain <= 86400)) {
    return absl::InvalidArgumentError("--drain-timeout: must be in [1, 86400] seconds");
  }
  config.drain_timeout = absl::Seconds(drain);
  config.trainer = absl::GetFlag(FLAGS_trainer);
  if (config.trainer.empty()) config.trainer = SelfDir() + "/switchyard-train";
  config.trainer = std::filesystem::absolute(config.trainer).string();
  if (access(config.trainer.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("--trainer: ", config.trainer,
                                            " is not an executable file (", std::strerror(errno),
                                            "); build switchyard-train or pass --trainer"));
  }
  config.probe_trainer = absl::GetFlag(FLAGS_probe_trainer);
  config.tls = absl::GetFlag(FLAGS_tls);
  config.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  config.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (!config.metrics_listen.empty() && config.metrics_listen.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError("--metrics-listen: expected HOST:PORT");
  }
  return config;
}

// Holds an exclusive lock on WORK_DIR/.lock for the life of the process: two
// daemons sharing a work folder would delete each other's attempts.
absl::Status LockWorkDir(const std::string& work_dir) {
  std::error_code error;
  std::filesystem::create_directories(work_dir, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("--work-dir: cannot create ", work_dir, ": ", error.message()));
  }
  chmod(work_dir.c_str(), 0700);
  std::string lock_path = work_dir + "/.lock";
  int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("--work-dir: ", work_dir, " is in use by another switchyard-worker"));
  }
  // Leftovers of an earlier life of this daemon: their attempts are lost.
  for (const auto& entry : std::filesystem::directory_iterator(work_dir, error)) {
    if (entry.path().filename().string().rfind("attempt-", 0) == 0) {
      std::error_code ignored;
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }
  return absl::OkStatus();  // fd stays open on purpose
}

// What `trainer --version` prints; a trainer without that flag is named by
// the start of its file's sha256, which still tells two builds apart.
std::string TrainerVersion(const std::string& trainer) {
  absl::StatusOr<std::string> out = RunAndCapture(trainer, {"--version"}, absl::Seconds(30));
  if (out.ok()) {
    std::string first(absl::StripAsciiWhitespace(out->substr(0, out->find('\n'))));
    if (!first.empty()) return first.substr(0, 200);
  }
  std::ifstream in(trainer, std::ios::binary);
  if (!in) return "unknown";
  common::Sha256 hash;
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) hash.Update(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
  }
  return "sha256:" + hash.HexDigest().substr(0, 16);
}

int Run() {
  absl::StatusOr<Config> config = ConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "switchyard-worker: " << config.status().message() << "\n";
    return 2;
  }
  if (absl::Status s = LockWorkDir(config->work_dir); !s.ok()) {
    std::cerr << "switchyard-worker: " << s.message() << "\n";
    return 1;
  }

  // Signals are taken by sigwait on one thread; block them before any other
  // thread starts (trainers get a clean mask, see process_launcher.h).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  GpuProbe gpus = ProbeGpus();
  DeviceInfo cpu = ProbeCpu();
  absl::StatusOr<std::vector<DeviceInfo>> devices =
      ResolveDevices(config->devices_spec, gpus, cpu);
  if (!devices.ok()) {
    std::cerr << "switchyard-worker: " << devices.status().message() << "\n";
    return 2;
  }
  std::string trainer_build;  // "LibTorch 1.13.0, CUDA no", for the trainer's version
  if (config->probe_trainer) {
    // A trainer that cannot run, or cannot use the devices offered, would
    // fail every job it is given: refuse to start instead.
    absl::StatusOr<std::string> said =
        RunAndCapture(config->trainer, {"--probe"}, absl::Seconds(60));
    absl::StatusOr<TrainerProbe> probe =
        said.ok() ? ParseTrainerProbe(*said) : absl::StatusOr<TrainerProbe>(said.status());
    if (!probe.ok()) {
      std::cerr << "switchyard-worker: the trainer at " << config->trainer
                << " does not answer --probe (" << probe.status().message()
                << "); it cannot run jobs here. Fix it or pass --trainer\n";
      return 2;
    }
    std::string note;
    devices = DevicesTheTrainerCanUse(config->devices_spec, *std::move(devices), *probe,
                                      config->trainer, cpu, &note);
    if (!devices.ok()) {
      std::cerr << "switchyard-worker: " << devices.status().message() << "\n";
      return 2;
    }
    if (!note.empty()) SY_LOG(Warning) << note;
    trainer_build = absl::StrCat("LibTorch ", probe->libtorch, ", CUDA ",
                                 probe->cuda_available ? "yes" : "no");
  }
  int slots = static_cast<int>(devices->size()) * config->slots_per_device;
  int threads = config->threads_per_slot;
  if (threads == 0) {
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / slots);
  }

  common::ChannelOptions channel_options;
  channel_options.target = config->coordinator;
  channel_options.token = config->token;
  channel_options.tls = config->tls;
  channel_options.tls_ca_file = config->tls_ca;
  absl::StatusOr<std::unique_ptr<GrpcCoordinatorClient>> client = GrpcCoordinatorClient::Create(
      [channel_options] { return common::MakeChannel(channel_options); });
  if (!client.ok()) {
    std::cerr << "switchyard-worker: " << client.status().message() << "\n";
    return 2;
  }
  ProcessTrainerLauncher launcher;

  DaemonOptions options;
  options.coordinator = config->coordinator;
  options.unreachable_hint =
      config->tls || !config->tls_ca.empty()
          ? "if it serves TLS, check that --tls-ca holds the CA that signed its certificate and "
            "that the certificate names the host in --coordinator"
          : "if it serves TLS, pass --tls-ca FILE";
  options.name = config->name;
  options.hostname = config->hostname;
  options.devices = *devices;
  options.slots_per_device = config->slots_per_device;
  options.threads_per_slot = threads;
  options.build_version = SWITCHYARD_VERSION;
  options.trainer_version = TrainerVersion(config->trainer);
  if (!trainer_build.empty()) {
    options.trainer_version = absl::StrCat(options.trainer_version.substr(0, 120), " (",
                                           trainer_build, ")");
  }
  options.cuda_version = gpus.cuda_version;
  options.drain_timeout = config->drain_timeout;
  options.seed = std::random_device{}();
  options.runner.trainer_path = config->trainer;
  options.runner.programs = config->programs;
  options.runner.work_dir = config->work_dir;

  std::string device_names;
  for (const DeviceInfo& d : *devices) absl::StrAppend(&device_names, device_names.empty() ? "" : ",", d.name);
  SY_LOG(Info) << "switchyard-worker " << SWITCHYARD_VERSION << " '" << config->name << "': "
               << device_names << " x " << config->slots_per_device << " slot(s), " << threads
               << " thread(s) per slot; trainer " << config->trainer << " ("
               << options.trainer_version << ")"
               << [&] {
                    std::string programs;
                    for (const auto& [name, path] : config->programs) {
                      absl::StrAppend(&programs, "; program ", name, " = ", path);
                    }
                    return programs;
                  }()
               << "; work dir " << config->work_dir
               << (gpus.source.empty() ? "" : absl::StrCat("; GPUs from ", gpus.source));

  WorkerDaemon daemon(options, client->get(), &launcher);
  std::unique_ptr<common::MetricsEndpoint> metrics;
  if (!config->metrics_listen.empty()) {
    auto collector = std::make_shared<WorkerMetricsCollector>(
        config->name, SWITCHYARD_VERSION, [&daemon] { return daemon.Stats(); });
    absl::StatusOr<std::unique_ptr<common::MetricsEndpoint>> started =
        common::StartMetricsEndpoint("--metrics-listen", config->metrics_listen, collector);
    if (!started.ok()) {
      std::cerr << "switchyard-worker: " << started.status().message() << "\n";
      return 1;
    }
    metrics = std::move(*started);
    SY_LOG(Info) << "Prometheus metrics on http://" << config->metrics_listen << "/metrics";
  }
  const absl::Duration drain_timeout = config->drain_timeout;
  std::thread([&daemon, signals, drain_timeout]() mutable {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    SY_LOG(Info) << "signal " << signal_number << " (" << strsignal(signal_number)
                 << "): draining; a second signal exits at once";
    daemon.Drain();
    // The promise is to be gone within --drain-timeout, whatever happens.
    std::thread([drain_timeout] {
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(drain_timeout * 0.97));
      SY_LOG(Warning) << "drain timeout: exiting with jobs still running";
      KillAllTrainers();
      std::fflush(stderr);
      _exit(0);
    }).detach();
    sigwait(&signals, &signal_number);
    SY_LOG(Warning) << "second signal " << signal_number << ": exiting now";
    KillAllTrainers();
    std::fflush(stderr);
    _exit(128 + signal_number);
  }).detach();

  absl::Status status = daemon.Run();
  if (!status.ok()) {
    SY_LOG(Error) << status.message();
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace switchyard::worker

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "switchyard-worker --coordinator HOST:PORT [--token-file F] [--devices auto|cpu|cuda:0,...]\n"
      "  [--slots-per-device K] [--threads-per-slot N] [--work-dir DIR] [--name NAME]\n"
      "  [--drain-timeout S] [--trainer PATH] [--program NAME=PATH ...] [--metrics-listen HOST:PORT]\n"
      "Runs the coordinator's jobs on this machine, each in its own switchyard-train process,\n"
      "or in the program a job names (program: NAME) when it was allow-listed here with\n"
      "--program NAME=PATH (repeatable; docs/trainer-protocol.md, docs/security.md).\n"
      "The token comes from --token-file or SWITCHYARD_TOKEN. SIGTERM or SIGINT drains: running\n"
      "jobs checkpoint and are handed back; a second signal exits at once. See docs/worker.md.");
  std::vector<std::string> rest = switchyard::worker::TakeProgramFlags(argc, argv);
  std::vector<char*> rest_pointers;
  for (std::string& arg : rest) rest_pointers.push_back(arg.data());
  rest_pointers.push_back(nullptr);
  switchyard::common::NormalizedArgs args(static_cast<int>(rest.size()), rest_pointers.data());
  absl::ParseCommandLine(args.argc(), args.argv());
  return switchyard::worker::Run();
}
