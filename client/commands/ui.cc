// ui: the live web dashboard (docs/ui.md), an HTTP server in this process
// that reads through the same coordinator connection as every command.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/commands/commands.h"
#include "client/ui/assets.h"
#include "client/ui/http_server.h"
#include "client/ui/ui_server.h"
#include "common/rpc/auth.h"

namespace switchyard::client {
namespace {

std::atomic<bool> g_stop_requested{false};

extern "C" void OnStopSignal(int) { g_stop_requested.store(true); }

struct ListenAddress {
  std::string host;  // without brackets
  int port = 0;
  bool tls = false;
  // HOST:PORT as a Host header gives it.
  std::string Authority() const {
    const bool v6 = host.find(':') != std::string::npos;
    return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
  }
  std::string Url() const { return absl::StrCat(tls ? "https://" : "http://", Authority()); }
};

absl::StatusOr<ListenAddress> ParseListen(const std::string& text) {
  auto bad = [&text] {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen: expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080, got '", text, "'"));
  };
  ListenAddress address;
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad();
  address.host = text.substr(0, colon);
  if (address.host.front() == '[') {
    if (address.host.size() < 3 || address.host.back() != ']') return bad();
    address.host = address.host.substr(1, address.host.size() - 2);
  } else if (address.host.find(':') != std::string::npos) {
    return bad();
  }
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(port, &address.port) || address.port < 0 || address.port > 65535) {
    return bad();
  }
  return address;
}

// The directory of `path` ("." for a bare name).
std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The login token: --ui-token-file (read, or created with a new token when
// missing), else a fresh token in ui.token next to the client token file (or
// in the working directory), whose path goes to stderr.
absl::StatusOr<std::string> UiToken(const Args& args, CommandEnv& env) {
  if (args.Has("ui-token-file")) {
    const std::string path = args.Get("ui-token-file");
    if (path.empty()) return absl::InvalidArgumentError("--ui-token-file: expected a file name");
    absl::StatusOr<std::string> token = common::ReadOrCreateTokenFile(path);
    if (!token.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--ui-token-file: ", token.status().message()));
    }
    env.err() << "switchyard ui: log in with the token in " << path << "\n";
    return token;
  }
  const std::string dir =
      env.globals().token_file.empty() ? "." : DirectoryOf(env.globals().token_file);
  const std::string path = absl::StrCat(dir, "/ui.token");
  ::unlink(path.c_str());  // a fresh token per start
  absl::StatusOr<std::string> token = common::ReadOrCreateTokenFile(path);
  if (!token.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot write the ui token (", token.status().message(), "); pass --ui-token-file FILE"));
  }
  ::chmod(path.c_str(), 0600);
  env.err() << "switchyard ui: log in with the token in " << path << " (new at every start)\n";
  return token;
}

absl::Status RunUi(const Args& args, CommandEnv& env) {
  absl::StatusOr<ListenAddress> listen = ParseListen(args.Get("listen", "127.0.0.1:8080"));
  if (!listen.ok()) return listen.status();
  ui::UiOptions options;
  options.require_login = !ui::IsLoopbackHost(listen->host);
  if (options.require_login) {
    absl::StatusOr<std::string> token = UiToken(args, env);
    if (!token.ok()) return token.status();
    options.ui_token = *token;
  } else if (args.Has("ui-token-file")) {
    env.err() << "switchyard ui: note: --ui-token-file is not used on a loopback address (no "
                 "login there)\n";
  }
  if (args.Has("ui-tls-cert") != args.Has("ui-tls-key")) {
    return absl::InvalidArgumentError("--ui-tls-cert and --ui-tls-key go together");
  }
  listen->tls = args.Has("ui-tls-cert");
  options.secure_cookie = listen->tls;
  options.assets = ui::EmbeddedAssets();
  absl::StatusOr<CoordinatorClient*> client = env.Client();
  if (!client.ok()) return client.status();

  ui::UiServer ui_server(*client, options);
  ui::HttpServer http([&ui_server](ui::HttpRequest& r) { return ui_server.Handle(r); },
                      ui::SecurityHeaders());
  if (listen->tls) {
    if (absl::Status s = http.EnableTls(args.Get("ui-tls-cert"), args.Get("ui-tls-key")); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = http.Listen(listen->host, listen->port); !s.ok()) return s;
  listen->port = http.port();
  if (!options.require_login) {
    // Only these Host names reach the API (a rebound DNS name does not).
    const std::string port = absl::StrCat(":", listen->port);
    std::vector<std::string> hosts = {absl::StrCat("127.0.0.1", port),
                                      absl::StrCat("localhost", port),
                                      absl::StrCat("[::1]", port)};
    const std::string own = listen->Authority();
    if (std::find(hosts.begin(), hosts.end(), own) == hosts.end()) hosts.push_back(own);
    ui_server.set_allowed_hosts(hosts);
  }

  g_stop_requested.store(false);
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      if (g_stop_requested.load()) {
        http.Stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  env.out() << "serving on " << listen->Url() << std::endl;
  env.out().flush();
  http.Serve();
  env.err() << "switchyard ui: stopping\n";
  done.store(true);
  watcher.join();
  ui_server.Shutdown();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return absl::OkStatus();
}

}  // namespace

Command UiCommand() {
  return {{"ui",
           "",
           "serve a live web dashboard of the coordinator",
           "Serves the dashboard (docs/ui.md) over HTTP (HTTPS with --ui-tls-cert and --ui-tls-key)\n"
           "until SIGINT or SIGTERM. The first line on stdout is `serving on http://HOST:PORT`\n"
           "(https:// with TLS; the real port when --listen gives :0).\n"
           "It reads through the coordinator with this command's --coordinator, --token-file\n"
           "and TLS flags; the client token never reaches the browser.\n"
           "\n"
           "pages (each a link of its own):\n"
           "  /              every sweep: progress, counts per state, elapsed time, ETA\n"
           "  /sweeps/ID     one sweep: grid, curves, bars, parallel coordinates, jobs, rungs\n"
           "  /jobs/ID       one job: config, attempts, decisions, curves, checkpoints\n"
           "  /workers       slots per device, last seen, versions, state\n"
           "JSON API (used by the page; docs/ui.md lists the answers):\n"
           "  GET  /api/session, /api/sweeps, /api/sweeps/ID, /api/jobs/ID, /api/workers,\n"
           "       /api/series?sweep=ID, /api/aggregate?sweep=ID&name=M, /api/events?sweep=ID (SSE)\n"
           "  POST /api/sweeps/ID/cancel, /api/jobs/ID/cancel, /api/sweeps/ID/retry\n"
           "  GET  /download/figure.svg?sweep=ID&kind=curves|bars|heatmap (the figure command's\n"
           "       drawing), /download/data.csv?sweep=ID&what=jobs|series|aggregate\n"
           "\n"
           "security: by default it listens on 127.0.0.1 only (and answers only requests for\n"
           "127.0.0.1, localhost or [::1] as Host). Any other --listen address asks for a login:\n"
           "the token of --ui-token-file (created when missing), else a fresh token written to\n"
           "ui.token next to the --token-file (or in the working directory), path on stderr;\n"
           "a correct one sets an HttpOnly, SameSite=Strict session cookie. POSTs need the\n"
           "X-CSRF-Token header from /api/session. Every response carries a strict\n"
           "Content-Security-Policy, X-Content-Type-Options: nosniff and Referrer-Policy:\n"
           "no-referrer. Beyond a trusted network, serve TLS (--ui-tls-cert, --ui-tls-key; the\n"
           "session cookie is then Secure). Live updates hold one WatchSweep and one\n"
           "TailMetrics stream per watched sweep, shared by every open page.",
           {{"listen", "HOST:PORT", "where to serve (default 127.0.0.1:8080; port 0: any free port)"},
            {"ui-token-file", "FILE",
             "the login token for a non-loopback --listen (created when missing)"},
            {"ui-tls-cert", "FILE", "serve HTTPS with this certificate chain (PEM)"},
            {"ui-tls-key", "FILE", "the certificate's private key (PEM)"}},
           0,
           0},
          RunUi};
}

}  // namespace switchyard::client
