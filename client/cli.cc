#include "client/cli.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "common/config/job_config.h"

#ifndef SWITCHYARD_VERSION
#define SWITCHYARD_VERSION "dev"
#endif

namespace switchyard::client {
namespace {

std::string TopHelp() {
  std::string text =
      "usage: switchyard [global flags] COMMAND [args] [flags]\n"
      "\n"
      "The command-line client of Switchyard: submit sweeps of training runs, follow them,\n"
      "and turn their results into tables, CSV files and figures.\n"
      "\n"
      "commands:\n";
  for (const Command& command : AllCommands()) {
    std::string left = absl::StrCat("  ", command.spec.name);
    left.resize(12, ' ');
    absl::StrAppend(&text, left, command.spec.summary, "\n");
  }
  absl::StrAppend(&text, "\nglobal flags:\n");
  for (const FlagSpec& flag : GlobalFlags()) {
    std::string left = absl::StrCat("  --", flag.name, " ", flag.value_name);
    left.resize(28, ' ');
    absl::StrAppend(&text, left, flag.help, "\n");
  }
  absl::StrAppend(&text,
                  "\n"
                  "exit codes: 0 success; 1 bad usage or invalid input; 2 an error from the\n"
                  "coordinator; 3 the coordinator is unreachable; 4 (watch) the sweep ended with\n"
                  "failed, lost or cancelled jobs.\n"
                  "\n"
                  "`switchyard COMMAND --help` describes a command. docs/cli.md has examples.\n");
  return text;
}

absl::StatusOr<GlobalOptions> GlobalsFrom(const Args& args, const CliIo& io) {
  GlobalOptions globals;
  if (auto it = io.env.find("SWITCHYARD_COORDINATOR"); it != io.env.end() && !it->second.empty()) {
    globals.coordinator = it->second;
  }
  if (args.Has("coordinator")) globals.coordinator = args.Get("coordinator");
  size_t colon = globals.coordinator.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      !ParseIntFlag("port", globals.coordinator.substr(colon + 1), 1, 65535).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--coordinator: expected HOST:PORT such as 127.0.0.1:50051, got '", globals.coordinator,
        "'", args.Has("coordinator") ? "" : " (from SWITCHYARD_COORDINATOR)"));
  }
  globals.token_file = args.Get("token-file");
  if (args.Has("token-file") && globals.token_file.empty()) {
    return absl::InvalidArgumentError("--token-file: expected a file name");
  }
  globals.tls_ca_file = args.Get("tls-ca");
  if (args.Has("output")) {
    absl::StatusOr<OutputFormat> format = ParseOutputFormat(args.Get("output"));
    if (!format.ok()) return format.status();
    globals.output = *format;
  }
  if (args.Has("timeout")) {
    absl::StatusOr<double> timeout = ParseDoubleFlag("--timeout", args.Get("timeout"), 0.1, 86400);
    if (!timeout.ok()) return timeout.status();
    globals.timeout_seconds = *timeout;
  }
  return globals;
}

int Fail(CliIo& io, const absl::Status& status) {
  *io.err << "switchyard: " << status.message() << "\n";
  io.err->flush();
  return ExitCodeFor(status);
}

}  // namespace

const std::vector<FlagSpec>& GlobalFlags() {
  static const std::vector<FlagSpec>* const flags = new std::vector<FlagSpec>{
      {"coordinator", "HOST:PORT",
       "the coordinator (default $SWITCHYARD_COORDINATOR, else 127.0.0.1:50051)"},
      {"token-file", "FILE", "the client token (default: $SWITCHYARD_TOKEN)"},
      {"tls-ca", "FILE", "use TLS, trusting this CA certificate (PEM)"},
      {"output", "FORMAT", "table (default), json or csv, for commands that print tables"},
      {"timeout", "SECONDS", "deadline of each call to the coordinator (default 30)"},
  };
  return *flags;
}

int RunCli(const std::vector<std::string>& args, CliIo& io) {
  // Global flags may come before the command word; they are handed on to the
  // command's parser, which knows them too.
  std::vector<std::string> leading;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help" || arg == "help") {
      if (arg == "help" && i + 1 < args.size()) {
        for (const Command& command : AllCommands()) {
          if (command.spec.name == args[i + 1]) {
            *io.out << CommandHelp(command.spec, GlobalFlags());
            return kExitOk;
          }
        }
        return Fail(io, absl::InvalidArgumentError(
                            absl::StrCat("help: unknown command '", args[i + 1], "'")));
      }
      *io.out << TopHelp();
      return kExitOk;
    }
    if (arg == "--version") {
      *io.out << "switchyard " << SWITCHYARD_VERSION << "\n";
      return kExitOk;
    }
    if (arg.rfind("--", 0) != 0) break;
    leading.push_back(arg);
    std::string name =
        arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
    bool takes_value = false;
    for (const FlagSpec& flag : GlobalFlags()) {
      if (flag.name == name) takes_value = !flag.value_name.empty();
    }
    if (takes_value && arg.find('=') == std::string::npos && i + 1 < args.size()) {
      leading.push_back(args[++i]);
    }
  }
  if (i >= args.size()) {
    *io.err << TopHelp();
    return Fail(io, absl::InvalidArgumentError("missing COMMAND"));
  }
  const std::string& word = args[i];
  const Command* command = nullptr;
  std::vector<std::string> names;
  for (const Command& c : AllCommands()) {
    names.push_back(c.spec.name);
    if (c.spec.name == word) command = &c;
  }
  if (command == nullptr) {
    return Fail(io, absl::InvalidArgumentError(absl::StrCat(
                        "unknown command '", word, "'",
                        config::DidYouMean(config::ClosestOf(word, names)),
                        " (switchyard --help lists them)")));
  }
  std::vector<std::string> rest = leading;
  rest.insert(rest.end(), args.begin() + i + 1, args.end());
  absl::StatusOr<Args> parsed = ParseArgs(command->spec, GlobalFlags(), rest);
  if (!parsed.ok()) return Fail(io, parsed.status());
  if (parsed->help()) {
    *io.out << CommandHelp(command->spec, GlobalFlags());
    return kExitOk;
  }
  absl::StatusOr<GlobalOptions> globals = GlobalsFrom(*parsed, io);
  if (!globals.ok()) return Fail(io, globals.status());
  CommandEnv env(&io, *std::move(globals));
  absl::Status status = command->run(*parsed, env);
  io.out->flush();
  if (!status.ok()) return Fail(io, status);
  return kExitOk;
}

}  // namespace switchyard::client
