// switchyard-coordinator: owns the results database and serves the gRPC API.
// Flags become a Config; main wires the store, the coordinator and the server
// together and waits for SIGTERM or SIGINT.
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/base/flags.h"
#include "common/base/log.h"
#include "common/rpc/auth.h"
#include "server/core/checkpoint_files.h"
#include "server/core/coordinator.h"
#include "server/service/metrics_exporter.h"
#include "server/service/server.h"
#include "server/store/data_dir_lock.h"
#include "server/store/sqlite_store.h"

ABSL_FLAG(std::string, data_dir, "", "folder of the database, tokens and checkpoints (required)");
ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "HOST:PORT to serve on; port 0 picks a free one");
ABSL_FLAG(std::string, client_token_file, "",
          "file with the client token (default: DATA_DIR/client.token, created if missing)");
ABSL_FLAG(std::string, worker_token_file, "",
          "file with the worker token (default: DATA_DIR/worker.token, created if missing)");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain; with --tls-key switches on TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key");
ABSL_FLAG(double, lease_seconds, 30, "an attempt whose worker is silent this long is lost");
ABSL_FLAG(double, heartbeat_seconds, 5, "how often workers are told to heartbeat");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT for Prometheus text metrics at /metrics (empty: off)");
ABSL_FLAG(std::string, sync, "full",
          "SQLite synchronous mode: full (survives power loss) or normal (survives crashes)");

namespace switchyard::server {
namespace {

struct Config {
  std::string data_dir;
  ServerOptions server;
  CoordinatorOptions coordinator;
  std::string client_token_file, worker_token_file;
  std::string metrics_listen;
  bool synchronous_full = true;
};

absl::StatusOr<Config> ConfigFromFlags() {
  Config config;
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (config.data_dir.empty()) return absl::InvalidArgumentError("--data-dir is required");
  config.server.listen = absl::GetFlag(FLAGS_listen);
  if (config.server.listen.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: expected HOST:PORT, got '", config.server.listen, "'"));
  }
  config.server.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  config.server.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  config.client_token_file = absl::GetFlag(FLAGS_client_token_file);
  config.worker_token_file = absl::GetFlag(FLAGS_worker_token_file);
  double lease = absl::GetFlag(FLAGS_lease_seconds);
  double heartbeat = absl::GetFlag(FLAGS_heartbeat_seconds);
  if (!(lease >= 1 && lease <= 86400)) {
    return absl::InvalidArgumentError("--lease-seconds: must be in [1, 86400]");
  }
  if (!(heartbeat > 0 && heartbeat * 2 <= lease)) {
    return absl::InvalidArgumentError(
        "--heartbeat-seconds: must be > 0 and at most half of --lease-seconds");
  }
  config.coordinator.lease = absl::Seconds(lease);
  config.coordinator.heartbeat_interval = absl::Seconds(heartbeat);
  config.coordinator.worker_gone_after = absl::Seconds(lease * 2);
  config.coordinator.reaper_interval = std::min(absl::Seconds(1), absl::Seconds(lease / 4));
  std::string sync = absl::GetFlag(FLAGS_sync);
  if (sync != "full" && sync != "normal") {
    return absl::InvalidArgumentError(absl::StrCat("--sync: expected full or normal, got '", sync, "'"));
  }
  config.synchronous_full = sync == "full";
  config.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  return config;
}

// How often freed heap memory is handed back to the OS (ReleaseFreedMemory).
constexpr int kTrimIntervalSeconds = 60;

int64_t ResidentKib() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// glibc keeps what a thread frees in that thread's arena, resident, and
// gives a heap back only from its top; with a thousand gRPC threads spread
// over 16 arenas, the memory of a burst (a SubmitSweep of 17,000 cells left
// 61 MiB behind in one arena) and the fragments of steady traffic stayed in
// the RSS for good (docs/reliability.md, "What the memory is"). malloc_trim
// returns every whole free page of every arena, in tens of milliseconds at
// most (36 ms with 1,000 threads on a busy 2-core machine).
void ReleaseFreedMemory() {
#ifdef __GLIBC__
  const absl::Time start = absl::Now();
  const int64_t before = ResidentKib();
  malloc_trim(0);
  const int64_t released = before - ResidentKib();
  if (released >= 8 * 1024) {
    SY_LOG(Info) << "returned " << released / 1024 << " MiB of freed memory to the OS in "
                 << absl::ToDoubleMilliseconds(absl::Now() - start) << " ms";
  }
#endif
}

absl::Status LoadTokens(Config* config) {
  auto token = [&](const std::string& flag, const char* default_name) -> absl::StatusOr<std::string> {
    if (!flag.empty()) return common::ReadTokenFile(flag);
    return common::ReadOrCreateTokenFile(absl::StrCat(config->data_dir, "/", default_name));
  };
  absl::StatusOr<std::string> client = token(config->client_token_file, "client.token");
  if (!client.ok()) return client.status();
  absl::StatusOr<std::string> worker = token(config->worker_token_file, "worker.token");
  if (!worker.ok()) return worker.status();
  if (common::TokensEqual(*client, *worker)) {
    return absl::InvalidArgumentError("the client and worker tokens must differ");
  }
  config->server.client_token = *client;
  config->server.worker_token = *worker;
  return absl::OkStatus();
}

int Run() {
  absl::StatusOr<Config> config = ConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "switchyard-coordinator: " << config.status().message() << "\n";
    return 2;
  }
  std::error_code error;
  std::filesystem::create_directories(config->data_dir, error);
  if (error) {
    std::cerr << "switchyard-coordinator: cannot create --data-dir " << config->data_dir << ": "
              << error.message() << "\n";
    return 1;
  }
  chmod(config->data_dir.c_str(), 0700);
  // Before anything else touches the folder (tokens, database, checkpoints);
  // held until Run returns.
  absl::StatusOr<std::unique_ptr<DataDirLock>> lock = DataDirLock::Acquire(config->data_dir);
  if (!lock.ok()) {
    std::cerr << "switchyard-coordinator: " << lock.status().message() << "\n";
    return 1;
  }
  if (absl::Status s = LoadTokens(&*config); !s.ok()) {
    std::cerr << "switchyard-coordinator: " << s.message() << "\n";
    return 1;
  }

  // Signals are taken by sigtimedwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SqliteStore::Options store_options;
  store_options.path = absl::StrCat(config->data_dir, "/switchyard.db");
  store_options.synchronous =
      config->synchronous_full ? sqlite::Synchronous::kFull : sqlite::Synchronous::kNormal;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(store_options);
  if (!store.ok()) {
    std::cerr << "switchyard-coordinator: " << store.status().message() << "\n";
    return 1;
  }
  CheckpointFiles files(config->data_dir);
  Coordinator coordinator(store->get(), common::Clock::Real(), &files, config->coordinator);
  coordinator.Start();

  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
      CoordinatorServer::Start(&coordinator, config->server);
  if (!server.ok()) {
    std::cerr << "switchyard-coordinator: " << server.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!config->metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started = MetricsServer::Start(
        config->metrics_listen, &coordinator, store->get(), store_options.path);
    if (!started.ok()) {
      std::cerr << "switchyard-coordinator: " << started.status().message() << "\n";
      return 1;
    }
    metrics = *std::move(started);
    SY_LOG(Info) << "Prometheus metrics on " << config->metrics_listen << " port "
                 << (metrics->ports().empty() ? 0 : metrics->ports()[0]) << " /metrics";
  }
  std::printf("listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);
  SY_LOG(Info) << "coordinator serving on " << (*server)->address() << " with data in "
               << config->data_dir << (config->server.tls_cert_file.empty() ? "" : " (TLS)");

  // The main thread has nothing else to do: it waits for a signal and, every
  // kTrimIntervalSeconds meanwhile, hands freed memory back.
  const timespec trim_interval{kTrimIntervalSeconds, 0};
  int signal_number = -1;
  while (signal_number < 0) {
    signal_number = sigtimedwait(&signals, nullptr, &trim_interval);
    if (signal_number < 0 && errno == EAGAIN) ReleaseFreedMemory();  // EINTR: wait again
  }
  SY_LOG(Info) << "signal " << signal_number << ": shutting down";
  coordinator.Stop();  // wakes watchers so their streams end
  (*server)->Shutdown(absl::Seconds(5));
  (*server)->Wait();
  server->reset();
  metrics.reset();
  store->reset();  // closes the database
  SY_LOG(Info) << "stopped cleanly";
  return 0;
}

}  // namespace
}  // namespace switchyard::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "switchyard-coordinator --data-dir DIR [--listen HOST:PORT] [--tls-cert F --tls-key F]\n"
      "Keeps sweeps, jobs, leases, metrics and checkpoints in DIR/switchyard.db and serves\n"
      "the Switchyard gRPC API. Prints 'listening on HOST:PORT' on stdout once ready.");
  switchyard::common::NormalizedArgs args(argc, argv);
  absl::ParseCommandLine(args.argc(), args.argv());
  return switchyard::server::Run();
}
