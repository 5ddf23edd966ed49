#include "worker/agent/process_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/clock.h"

extern char** environ;

namespace switchyard::worker {
namespace {

constexpr size_t kMaxStderrKept = 64 * 1024;
constexpr size_t kMaxLineBytes = 4 << 20;

// Process groups of live trainers, for KillAllTrainers.
std::mutex& GroupsMutex() {
  static std::mutex mutex;
  return mutex;
}
std::set<pid_t>& Groups() {
  static auto* groups = new std::set<pid_t>();
  return *groups;
}

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// Resolves a bare program name on PATH in the parent: the child may only make
// async-signal-safe calls between fork and exec.
std::string ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return program;
}

class ChildProcess : public TrainerProcess {
 public:
  ChildProcess(pid_t pid, int out_fd, int err_fd) : pid_(pid), out_fd_(out_fd), err_fd_(err_fd) {}

  ~ChildProcess() override {
    // A runner always waits for its trainer; this is the backstop for an
    // early return, so that no process or zombie is left behind.
    if (!Reaped()) {
      Kill();
      while (!Wait(absl::Seconds(1)).has_value()) {
      }
    }
    CloseFd(&out_fd_);
    CloseFd(&err_fd_);
  }

  ReadResult ReadLine(absl::Duration timeout, std::string* line) override {
    absl::Time deadline = absl::Now() + timeout;
    while (true) {
      size_t newline = out_buffer_.find('\n');
      if (newline != std::string::npos) {
        line->assign(out_buffer_, 0, newline);
        out_buffer_.erase(0, newline + 1);
        return ReadResult::kLine;
      }
      if (out_buffer_.size() >= kMaxLineBytes || (out_fd_ < 0 && !out_buffer_.empty())) {
        // An endless line or a last line without a newline: hand it over as is.
        line->swap(out_buffer_);
        out_buffer_.clear();
        return ReadResult::kLine;
      }
      if (out_fd_ < 0) return ReadResult::kEof;
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return ReadResult::kTimeout;
      PollOnce(left);
    }
  }

  void Terminate() override { Signal(SIGTERM, /*group=*/false); }
  void Kill() override { Signal(SIGKILL, /*group=*/true); }

  std::optional<ExitInfo> Wait(absl::Duration timeout) override {
    absl::Time deadline = absl::Now() + timeout;
    while (!Reaped()) {
      // Detect the exit without reaping first: while the zombie exists its
      // pid and process group id cannot be reused, so the group kill below
      // cannot hit a stranger.
      siginfo_t info;
      std::memset(&info, 0, sizeof info);
      int r = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
      if ((r == 0 && info.si_pid == pid_) || (r < 0 && errno == ECHILD)) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          // Anything the trainer forked dies with it: nothing of a job may
          // outlive the job.
          kill(-pid_, SIGKILL);
          int status = 0;
          pid_t reaped = waitpid(pid_, &status, 0);
          reaped_ = true;
          exit_.signaled = reaped == pid_ && WIFSIGNALED(status);
          exit_.code = reaped == pid_ && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
          exit_.signal = exit_.signaled ? WTERMSIG(status) : 0;
          std::lock_guard<std::mutex> groups_lock(GroupsMutex());
          Groups().erase(pid_);
        }
        // Its last words on stderr may still be in the pipe; a grandchild
        // could hold the pipe open, so this is bounded.
        absl::Time drain_until = absl::Now() + absl::Seconds(1);
        while (err_fd_ >= 0 && absl::Now() < drain_until) PollOnce(absl::Milliseconds(50));
        break;
      }
      if (absl::Now() >= deadline) return std::nullopt;
      // Keep the pipes flowing: a trainer blocked on a full pipe never exits.
      PollOnce(std::min(absl::Milliseconds(20), deadline - absl::Now()));
    }
    return exit_;
  }

  std::string StderrTail(size_t max_bytes) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (err_buffer_.size() <= max_bytes) return err_buffer_;
    std::string tail = err_buffer_.substr(err_buffer_.size() - max_bytes);
    size_t newline = tail.find('\n');
    if (newline != std::string::npos && newline + 1 < tail.size()) tail.erase(0, newline + 1);
    return tail;
  }

 private:
  bool Reaped() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return reaped_;
  }

  void Signal(int signal, bool group) {
    // Under the mutex: once reaped, the pid may belong to someone else.
    std::lock_guard<std::mutex> lock(mutex_);
    if (reaped_) return;
    kill(group ? -pid_ : pid_, signal);
  }

  // Waits up to `timeout` for output on either pipe and takes what is there.
  void PollOnce(absl::Duration timeout) {
    pollfd fds[2];
    int n = 0;
    if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    if (n == 0) {
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(timeout));
      return;
    }
    int ms = static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout)));
    if (poll(fds, n, ms) <= 0) return;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == out_fd_) {
        Drain(&out_fd_, &out_buffer_);
      } else {
        std::string chunk;
        Drain(&err_fd_, &chunk);
        std::lock_guard<std::mutex> lock(mutex_);
        err_buffer_ += chunk;
        if (err_buffer_.size() > 2 * kMaxStderrKept) {
          err_buffer_.erase(0, err_buffer_.size() - kMaxStderrKept);
        }
      }
    }
  }

  // Reads what a non-blocking pipe holds; closes it at end of file.
  static void Drain(int* fd, std::string* into) {
    char buffer[65536];
    while (*fd >= 0) {
      ssize_t n = read(*fd, buffer, sizeof buffer);
      if (n > 0) {
        into->append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      CloseFd(fd);  // EOF or a real error
    }
  }

  const pid_t pid_;
  int out_fd_;
  int err_fd_;
  std::string out_buffer_;      // runner thread only
  mutable std::mutex mutex_;    // guards reaped_, exit_, err_buffer_; orders kill() and reaping
  bool reaped_ = false;
  ExitInfo exit_;
  std::string err_buffer_;
};

}  // namespace

std::string ExitInfo::Describe() const {
  if (!signaled) return absl::StrCat("exit code ", code);
  const char* name = strsignal(signal);
  return absl::StrCat("killed by signal ", signal, " (", name ? name : "unknown", ")");
}

absl::StatusOr<std::unique_ptr<TrainerProcess>> ProcessTrainerLauncher::Launch(
    const TrainerSpec& spec) {
  // Everything the child needs is built before fork.
  std::string program = ResolveProgram(spec.program);
  std::vector<std::string> argv_storage;
  argv_storage.push_back(spec.program);
  for (const std::string& arg : spec.args) argv_storage.push_back(arg);
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_storage;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = std::any_of(spec.env.begin(), spec.env.end(),
                                [&](const auto& kv) { return kv.first == name; });
    if (!replaced) env_storage.emplace_back(entry);
  }
  for (const auto& [name, value] : spec.env) env_storage.push_back(absl::StrCat(name, "=", value));
  std::vector<char*> envp;
  for (std::string& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);

  // O_CLOEXEC on every descriptor: a trainer forked by another slot at the
  // same moment must not inherit this one's pipes, or EOF would never come.
  int out_pipe[2], err_pipe[2], exec_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::UnavailableError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return absl::UnavailableError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return absl::UnavailableError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();
  const char* working_dir = spec.working_dir.empty() ? nullptr : spec.working_dir.c_str();

  // Registered under the lock across fork, so KillAllTrainers never misses a
  // child that exists.
  std::unique_lock<std::mutex> groups_lock(GroupsMutex());
  pid_t pid = fork();
  if (pid == 0) {
    // The child: async-signal-safe calls only.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the daemon died before prctl
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction default_action;
    std::memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) sigaction(s, &default_action, nullptr);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    int error = 0;
    if (working_dir != nullptr && chdir(working_dir) != 0) {
      error = errno;
    } else {
      execve(program.c_str(), argv.data(), envp.data());
      error = errno;
    }
    ssize_t ignored = write(exec_pipe[1], &error, sizeof error);
    (void)ignored;
    _exit(127);
  }
  int fork_errno = errno;
  if (pid > 0) {
    setpgid(pid, pid);  // also here: a kill right after Launch must reach the group
    Groups().insert(pid);
  }
  groups_lock.unlock();

  for (int fd : {out_pipe[1], err_pipe[1], exec_pipe[1]}) close(fd);
  if (null_fd >= 0) close(null_fd);
  if (pid < 0) {
    for (int fd : {out_pipe[0], err_pipe[0], exec_pipe[0]}) close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot start ", spec.program, ": fork: ", std::strerror(fork_errno)));
  }

  // exec succeeded exactly when the CLOEXEC pipe closes without a word.
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(exec_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status = 0;
    waitpid(pid, &status, 0);
    {
      std::lock_guard<std::mutex> lock(GroupsMutex());
      Groups().erase(pid);
    }
    close(out_pipe[0]);
    close(err_pipe[0]);
    return absl::UnavailableError(absl::StrCat(
        "cannot start ", spec.program,
        working_dir != nullptr ? absl::StrCat(" in ", spec.working_dir) : std::string(), ": ",
        std::strerror(child_errno)));
  }
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
  return std::unique_ptr<TrainerProcess>(
      std::make_unique<ChildProcess>(pid, out_pipe[0], err_pipe[0]));
}

void KillAllTrainers() {
  std::lock_guard<std::mutex> lock(GroupsMutex());
  for (pid_t group : Groups()) kill(-group, SIGKILL);
}

absl::StatusOr<std::string> RunAndCapture(const std::string& program,
                                          const std::vector<std::string>& args,
                                          absl::Duration timeout) {
  ProcessTrainerLauncher launcher;
  TrainerSpec spec;
  spec.program = program;
  spec.args = args;
  absl::StatusOr<std::unique_ptr<TrainerProcess>> process = launcher.Launch(spec);
  if (!process.ok()) return absl::NotFoundError(process.status().message());
  absl::Time deadline = absl::Now() + timeout;
  std::string output, line;
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      (*process)->Kill();
      (*process)->Wait(absl::InfiniteDuration());
      return absl::DeadlineExceededError(absl::StrCat(program, ": no answer within ",
                                                      absl::FormatDuration(timeout)));
    }
    TrainerProcess::ReadResult r = (*process)->ReadLine(left, &line);
    if (r == TrainerProcess::ReadResult::kEof) break;
    if (r == TrainerProcess::ReadResult::kLine) absl::StrAppend(&output, line, "\n");
  }
  std::optional<ExitInfo> exit = (*process)->Wait(std::max(deadline - absl::Now(), absl::Seconds(1)));
  if (!exit.has_value()) {
    (*process)->Kill();
    (*process)->Wait(absl::InfiniteDuration());
    return absl::DeadlineExceededError(absl::StrCat(program, ": did not exit in time"));
  }
  if (exit->signaled || exit->code != 0) {
    return absl::UnknownError(absl::StrCat(program, ": ", exit->Describe()));
  }
  return output;
}

}  // namespace switchyard::worker
