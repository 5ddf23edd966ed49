// workers: the worker daemons the coordinator knows, with their slots.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/commands/commands.h"
#include "client/render/format.h"
#include "common/config/job_config.h"

namespace switchyard::client {
namespace {

absl::Status RunWorkers(const Args& args, CommandEnv& env) {
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();
  if (args.Has("unquarantine")) {
    absl::StatusOr<int64_t> id = ParseId("--unquarantine", args.Get("unquarantine"));
    if (!id.ok()) return id.status();
    absl::StatusOr<pb::Worker> worker = (*client)->UnquarantineWorker(*id);
    if (!worker.ok()) return worker.status();
    env.out() << "worker " << worker->id() << " (" << worker->name() << ") may claim jobs again; "
              << "state " << worker->state() << "\n";
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<pb::Worker>> workers = (*client)->ListWorkers();
  if (!workers.ok()) return workers.status();
  Table table({{"id"},
               {"name", 4, 32},
               {"host", 4, 32},
               {"state"},
               {"busy"},
               {"slots"},
               {"devices", 4, 48},
               {"programs", 4, 48},
               {"last_seen"},
               {"build"},
               {"trainer"},
               {"env_errors"},
               {"cause", 4, 100}});
  double now = env.Now();
  for (const pb::Worker& w : *workers) {
    std::vector<std::string> devices;
    for (const pb::Device& d : w.devices()) {
      devices.push_back(absl::StrCat(d.name(), "x", d.slots()));
    }
    table.AddRow(
        {w.id(), w.name(), w.hostname(), w.state(), static_cast<int64_t>(w.slots_busy()),
         static_cast<int64_t>(w.slots_total()), absl::StrJoin(devices, " "),
         // A worker of before programs runs the built-in trainer alone.
         w.programs().empty() ? std::string(config::kBuiltinProgram)
                              : absl::StrJoin(w.programs(), " "),
         w.last_seen() > 0 ? FormatDuration(now - w.last_seen()) + " ago" : std::string("-"),
         w.build_version(), w.trainer_version(),
         static_cast<int64_t>(w.environment_failures()),
         w.quarantined() ? w.quarantine_cause() : std::string()});
  }
  env.out() << table.Render(env.globals().output);
  return absl::OkStatus();
}

}  // namespace

Command WorkersCommand() {
  return {{"workers",
           "",
           "list the worker daemons and their slots",
           "One row per worker that ever registered: alive, quarantined, draining or gone;\n"
           "busy of its slots; its devices as NAMExSLOTS; env_errors, its environment errors\n"
           "in a row. A worker is quarantined after 3 (CUDA missing, a device gone, a trainer\n"
           "that cannot start: the machine's fault, not the job's) and claims no job until it\n"
           "is restarted or `workers --unquarantine ID`; cause is its last such error.",
           {{"unquarantine", "ID", "let quarantined worker ID claim jobs again"}},
           0,
           0},
          RunWorkers};
}

}  // namespace switchyard::client
