// The commands of `switchyard` and what they run with.
//
// A command is a CommandSpec (its words, flags and help) and a function that
// runs it. A command writes its results to env.out() and everything else
// (notes, progress of an export) to env.err(), and returns a status; the
// caller prints a failed status as "switchyard: MESSAGE" and maps it to an
// exit code (client/errors.h).
//
// Thread safety: a CommandEnv belongs to the thread that runs the command.
#ifndef SWITCHYARD_CLIENT_COMMANDS_COMMANDS_H_
#define SWITCHYARD_CLIENT_COMMANDS_COMMANDS_H_

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/args.h"
#include "client/coordinator_client.h"
#include "client/render/stats.h"
#include "client/render/table.h"

namespace switchyard::client {

inline constexpr char kDefaultCoordinator[] = "127.0.0.1:50051";

// The flags every command takes.
struct GlobalOptions {
  std::string coordinator = kDefaultCoordinator;  // HOST:PORT
  std::string token_file;                         // empty: SWITCHYARD_TOKEN
  std::string tls_ca_file;                        // empty: plaintext
  OutputFormat output = OutputFormat::kTable;
  double timeout_seconds = 30;
};

using ConnectFunction =
    std::function<absl::StatusOr<std::unique_ptr<CoordinatorClient>>(const ClientOptions&)>;

// The process around a command: streams, environment, clock and the way to
// reach the coordinator. Tests fill it with string streams and a fake.
struct CliIo {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  bool out_is_tty = false;
  int terminal_width = 80;
  std::map<std::string, std::string> env;  // SWITCHYARD_COORDINATOR, SWITCHYARD_TOKEN
  ConnectFunction connect;                 // default: ConnectToCoordinator
  std::function<double()> now;             // unix seconds; default: the real clock
};

class CommandEnv {
 public:
  CommandEnv(CliIo* io, GlobalOptions globals) : io_(io), globals_(std::move(globals)) {}
  // With a client that is already connected and outlives the env (the `ui`
  // command's request threads draw figures through its client).
  CommandEnv(CliIo* io, GlobalOptions globals, CoordinatorClient* borrowed)
      : io_(io), globals_(std::move(globals)), borrowed_(borrowed) {}

  std::ostream& out() { return *io_->out; }
  std::ostream& err() { return *io_->err; }
  bool out_is_tty() const { return io_->out_is_tty; }
  int terminal_width() const { return io_->terminal_width; }
  const GlobalOptions& globals() const { return globals_; }
  double Now() const;

  // The coordinator client, connected on first use: reads the token
  // (--token-file, else SWITCHYARD_TOKEN; none is a local error) and connects.
  absl::StatusOr<CoordinatorClient*> Client();

 private:
  CliIo* io_;
  GlobalOptions globals_;
  CoordinatorClient* borrowed_ = nullptr;
  std::unique_ptr<CoordinatorClient> client_;
};

struct Command {
  CommandSpec spec;
  std::function<absl::Status(const Args&, CommandEnv&)> run;
};

// Every command, in the order `switchyard --help` lists them.
const std::vector<Command>& AllCommands();

// The commands, one factory per command (defined in commands/*.cc).
Command SubmitCommand();
Command StatusCommand();
Command JobsCommand();
Command WorkersCommand();
Command WatchCommand();
Command CancelCommand();
Command RetryCommand();
Command WhyCommand();
Command ResultsCommand();
Command ExportCommand();
Command FigureCommand();
Command SampleCommand();
Command UiCommand();

// `figure`'s SVG from its parsed arguments (the SWEEP positional and its
// flags; --out is not needed), drawn as `switchyard figure` draws it. Notes
// (jobs left out, mixed groups) go to env.err(). What `ui` serves as
// /download/figure.svg.
absl::StatusOr<std::string> DrawFigure(const Args& args, CommandEnv& env);

// ---- helpers shared by the commands

// "pending", "running", ..., "paused", "stopped" for a job state; "unknown"
// otherwise.
std::string JobStateName(pb::JobState state);
// The inverse, for --state; INVALID_ARGUMENT naming `flag`.
absl::StatusOr<pb::JobState> ParseJobState(const std::string& flag, const std::string& text);
std::vector<std::string> JobStateNames();

// A wire Job as the statistics see it (config_json parsed into text values).
JobData ToJobData(const pb::Job& job);

// Comma-separated config keys (the registry's names), e.g. the value of
// --facet; INVALID_ARGUMENT naming `flag` for an unknown key, with a hint.
absl::StatusOr<std::vector<std::string>> ParseConfigKeys(std::string_view flag,
                                                         const std::string& text);
// ParseConfigKeys for --group-by: the keys that group results.
absl::StatusOr<std::vector<std::string>> ParseGroupBy(const std::string& text);

// Writes `content` to `path` through a temporary file and a rename, so that a
// reader never sees half a file; "-" writes to env.out().
absl::Status WriteOutputFile(CommandEnv& env, const std::string& path, const std::string& content);

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_COMMANDS_COMMANDS_H_
