// switchyard: the command-line client. main wires the process (streams,
// environment, terminal) to RunCli, which decides everything else.
#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <grpc/support/log.h>

#include "client/cli.h"

extern char** environ;

int main(int argc, char** argv) {
  // A closed pipe (switchyard export --out - | head) ends us quietly through
  // a failed write instead of a signal in the middle of a line.
  std::signal(SIGPIPE, SIG_IGN);
  std::ios::sync_with_stdio(false);
  // gRPC's own log lines ("Handshake failed ...") would come before our
  // message, which already carries gRPC's last connection error. Set
  // GRPC_VERBOSITY to see them.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function([](gpr_log_func_args*) {});

  switchyard::client::CliIo io;
  io.out = &std::cout;
  io.err = &std::cerr;
  io.out_is_tty = isatty(STDOUT_FILENO) == 1;
  winsize size{};
  if (io.out_is_tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    io.terminal_width = size.ws_col;
  }
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text(*entry);
    size_t eq = text.find('=');
    if (eq != std::string::npos && text.rfind("SWITCHYARD_", 0) == 0) {
      io.env[text.substr(0, eq)] = text.substr(eq + 1);
    }
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  int code = switchyard::client::RunCli(args, io);
  std::cout.flush();
  return code;
}
