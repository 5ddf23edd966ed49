// workers: the worker daemons the coordinator knows, with their slots.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/commands/commands.h"
#include "client/render/format.h"

namespace switchyard::client {
namespace {

absl::Status RunWorkers(const Args&, CommandEnv& env) {
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();
  absl::StatusOr<std::vector<pb::Worker>> workers = (*client)->ListWorkers();
  if (!workers.ok()) return workers.status();
  Table table({{"id"},
               {"name", 4, 32},
               {"host", 4, 32},
               {"state"},
               {"busy"},
               {"slots"},
               {"devices", 4, 48},
               {"last_seen"},
               {"build"},
               {"trainer"}});
  double now = env.Now();
  for (const pb::Worker& w : *workers) {
    std::vector<std::string> devices;
    for (const pb::Device& d : w.devices()) {
      devices.push_back(absl::StrCat(d.name(), "x", d.slots()));
    }
    table.AddRow(
        {w.id(), w.name(), w.hostname(), w.state(), static_cast<int64_t>(w.slots_busy()),
         static_cast<int64_t>(w.slots_total()), absl::StrJoin(devices, " "),
         w.last_seen() > 0 ? FormatDuration(now - w.last_seen()) + " ago" : std::string("-"),
         w.build_version(), w.trainer_version()});
  }
  env.out() << table.Render(env.globals().output);
  return absl::OkStatus();
}

}  // namespace

Command WorkersCommand() {
  return {{"workers",
           "",
           "list the worker daemons and their slots",
           "One row per worker that ever registered: alive, draining or gone; busy of its\n"
           "slots; its devices as NAMExSLOTS.",
           {},
           0,
           0},
          RunWorkers};
}

}  // namespace switchyard::client
