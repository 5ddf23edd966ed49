// The real launcher against /bin/sh scripts: real processes, no trainer.
#include "worker/agent/process_launcher.h"

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"

namespace switchyard::worker {
namespace {

TrainerSpec Shell(const std::string& script) {
  TrainerSpec spec;
  spec.program = "/bin/sh";
  spec.args = {"-c", script};
  return spec;
}

std::vector<std::string> ReadAll(TrainerProcess* process) {
  std::vector<std::string> lines;
  std::string line;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    auto r = process->ReadLine(absl::Milliseconds(100), &line);
    if (r == TrainerProcess::ReadResult::kEof) break;
    if (r == TrainerProcess::ReadResult::kLine) lines.push_back(line);
  }
  return lines;
}

// True once `pid` is gone (or a zombie nobody reaped yet).
bool Gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

bool WaitGone(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    if (Gone(pid)) return true;
    absl::SleepFor(absl::Milliseconds(25));
  }
  return false;
}

TEST(ProcessLauncherTest, ReadsStdoutLinesAndTheStderrTailAndTheExitCode) {
  ProcessTrainerLauncher launcher;
  auto process = launcher.Launch(Shell("echo one; echo oops >&2; printf 'two\\nthree'; exit 3"));
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ(ReadAll(process->get()), (std::vector<std::string>{"one", "two", "three"}));
  std::optional<ExitInfo> exit = (*process)->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.has_value());
  EXPECT_FALSE(exit->signaled);
  EXPECT_EQ(exit->code, 3);
  EXPECT_EQ(exit->Describe(), "exit code 3");
  EXPECT_EQ((*process)->StderrTail(1000), "oops\n");
}

TEST(ProcessLauncherTest, TheStderrTailStartsAtALineBoundary) {
  ProcessTrainerLauncher launcher;
  auto process =
      launcher.Launch(Shell("i=0; while [ $i -lt 200 ]; do echo line-$i >&2; i=$((i+1)); done"));
  ASSERT_TRUE(process.ok());
  ReadAll(process->get());
  ASSERT_TRUE((*process)->Wait(absl::Seconds(20)).has_value());
  std::string tail = (*process)->StderrTail(50);
  EXPECT_LE(tail.size(), 50u);
  EXPECT_EQ(tail.rfind("line-", 0), 0u) << tail;
  EXPECT_NE(tail.find("line-199\n"), std::string::npos);
}

TEST(ProcessLauncherTest, SetsTheEnvironmentAndTheWorkingDirectory) {
  auto dir = std::filesystem::temp_directory_path() / ("launcher_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  TrainerSpec spec = Shell("echo \"$SY_TEST_VALUE\"; echo \"[$CUDA_VISIBLE_DEVICES]\"; pwd");
  spec.env = {{"SY_TEST_VALUE", "hello"}, {"CUDA_VISIBLE_DEVICES", ""}};
  spec.working_dir = dir.string();
  setenv("CUDA_VISIBLE_DEVICES", "0,1", 1);
  ProcessTrainerLauncher launcher;
  auto process = launcher.Launch(spec);
  unsetenv("CUDA_VISIBLE_DEVICES");
  ASSERT_TRUE(process.ok());
  std::vector<std::string> lines = ReadAll(process->get());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "hello");
  EXPECT_EQ(lines[1], "[]");
  EXPECT_EQ(std::filesystem::canonical(lines[2]), std::filesystem::canonical(dir));
  (*process)->Wait(absl::Seconds(20));
  std::filesystem::remove_all(dir);
}

TEST(ProcessLauncherTest, TerminateReachesTheTrainerEvenWhenTheDaemonBlocksSigterm) {
  // The daemon blocks SIGTERM for sigwait; the child must get a clean mask.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  ProcessTrainerLauncher launcher;
  auto process = launcher.Launch(
      Shell("trap 'echo stopping; exit 4' TERM; echo ready; while :; do sleep 0.02; done"));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(process.ok());
  std::string line;
  ASSERT_EQ((*process)->ReadLine(absl::Seconds(20), &line), TrainerProcess::ReadResult::kLine);
  EXPECT_EQ(line, "ready");
  (*process)->Terminate();
  EXPECT_EQ(ReadAll(process->get()), (std::vector<std::string>{"stopping"}));
  std::optional<ExitInfo> exit = (*process)->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 4);
}

TEST(ProcessLauncherTest, KillTakesTheWholeProcessGroup) {
  ProcessTrainerLauncher launcher;
  auto process = launcher.Launch(Shell("sleep 1000 & echo $!; wait"));
  ASSERT_TRUE(process.ok());
  std::string line;
  ASSERT_EQ((*process)->ReadLine(absl::Seconds(20), &line), TrainerProcess::ReadResult::kLine);
  pid_t grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(line, &grandchild));
  EXPECT_FALSE(Gone(grandchild));
  (*process)->Kill();
  std::optional<ExitInfo> exit = (*process)->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_TRUE(WaitGone(grandchild));
  (*process)->Kill();  // after the end: nothing happens
}

TEST(ProcessLauncherTest, ATrainerDiesWithTheThreadThatStartedIt) {
  // PR_SET_PDEATHSIG: the trainer of a daemon killed with -9 must not live
  // on holding a GPU. The signal follows the launching thread.
  ProcessTrainerLauncher launcher;
  std::unique_ptr<TrainerProcess> process;
  pid_t pid = 0;
  std::thread([&] {
    auto launched = launcher.Launch(Shell("echo $$; exec sleep 1000"));
    ASSERT_TRUE(launched.ok());
    process = *std::move(launched);
    std::string line;
    ASSERT_EQ(process->ReadLine(absl::Seconds(20), &line), TrainerProcess::ReadResult::kLine);
    ASSERT_TRUE(absl::SimpleAtoi(line, &pid));
  }).join();
  ASSERT_GT(pid, 0);
  std::optional<ExitInfo> exit = process->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->signal, SIGKILL);
}

TEST(ProcessLauncherTest, AProgramThatCannotStartIsUnavailable) {
  ProcessTrainerLauncher launcher;
  TrainerSpec spec;
  spec.program = "/nonexistent/switchyard-train";
  auto process = launcher.Launch(spec);
  EXPECT_EQ(process.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(process.status().message().find("/nonexistent/switchyard-train"), std::string::npos);
}

TEST(ProcessLauncherTest, KillAllTrainersStopsEveryLiveTrainer) {
  ProcessTrainerLauncher launcher;
  auto a = launcher.Launch(Shell("exec sleep 1000"));
  auto b = launcher.Launch(Shell("exec sleep 1000"));
  ASSERT_TRUE(a.ok() && b.ok());
  KillAllTrainers();
  EXPECT_TRUE((*a)->Wait(absl::Seconds(20)).has_value());
  EXPECT_TRUE((*b)->Wait(absl::Seconds(20)).has_value());
}

TEST(ProcessLauncherTest, RunAndCaptureReturnsStdoutOrTimesOut) {
  auto out = RunAndCapture("/bin/sh", {"-c", "echo hi; echo there"}, absl::Seconds(20));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hi\nthere\n");
  EXPECT_EQ(RunAndCapture("sh", {"-c", "exit 1"}, absl::Seconds(20)).status().code(),
            absl::StatusCode::kUnknown);
  EXPECT_EQ(RunAndCapture("/bin/sh", {"-c", "exec sleep 100"}, absl::Milliseconds(200))
                .status()
                .code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(RunAndCapture("/nonexistent/tool", {}, absl::Seconds(5)).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace switchyard::worker
