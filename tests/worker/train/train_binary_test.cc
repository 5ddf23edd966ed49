// Runs the real switchyard-train binary: flag handling, exit codes, SIGTERM
// and resume across processes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct Process {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<Json> Lines() const {
    std::vector<Json> lines;
    size_t start = 0;
    while (start < out.size()) {
      size_t end = out.find('\n', start);
      if (end == std::string::npos) end = out.size();
      if (end > start)
        lines.push_back(Json::parse(out.substr(start, end - start)));
      start = end + 1;
    }
    return lines;
  }
};

// Runs the trainer with `args`; `on_line` sees each complete stdout line and
// may signal the child through the pid it is given.
Process RunTrainer(
    const std::vector<std::string>& args,
    const std::function<void(const std::string&, pid_t)>& on_line = nullptr) {
  std::vector<std::string> all = {SWITCHYARD_TRAIN_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2];
  EXPECT_EQ(pipe(out_pipe), 0);
  EXPECT_EQ(pipe(err_pipe), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
  pid_t pid = -1;
  Process result;
  int spawned =
      posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  EXPECT_EQ(spawned, 0) << SWITCHYARD_TRAIN_BINARY;

  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  size_t seen = 0;  // bytes of result.out already split into lines
  char buffer[4096];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? result.out : result.err).append(buffer, n);
    }
    for (size_t end; (end = result.out.find('\n', seen)) != std::string::npos;
         seen = end + 1) {
      if (on_line) on_line(result.out.substr(seen, end - seen), pid);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("switchyard_train_binary_test_" + std::to_string(::getpid()) +
             "_" + std::to_string(counter_++));
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// A job of many short epochs: a signal lands mid-run.
std::vector<std::string> QuickJob(int epochs) {
  return {"--model",
          "mlp",
          "--tasks",
          "IA",
          "--seed",
          "3",
          "--epochs",
          std::to_string(epochs),
          "--steps-per-epoch",
          "3",
          "--batch-size",
          "16",
          "--eval-windows",
          "40",
          "--checkpoint-every",
          "2",
          "--threads",
          "1"};
}

std::vector<std::string> Plus(std::vector<std::string> a,
                              const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(TrainBinaryTest, HelpListsRegistryKeysAndExitCodes) {
  Process p = RunTrainer({"--help"});
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_NE(p.out.find("--steps-per-epoch"), std::string::npos);
  EXPECT_NE(p.out.find("--debug-nan-at-step"), std::string::npos);
  EXPECT_NE(p.out.find("4  stopped on request"), std::string::npos);
}

// What the worker asks at start (docs/worker.md): one JSON line, exit 0. On
// this CPU-only build a CUDA device is then the machine's fault: exit 5.
TEST(TrainBinaryTest, ProbeReportsTheBuildAndAMissingDeviceExits5) {
  Process p = RunTrainer({"--probe"});
  EXPECT_EQ(p.exit_code, 0);
  auto lines = p.Lines();
  ASSERT_EQ(lines.size(), 1u) << p.out;
  EXPECT_EQ(lines[0]["probe"], true);
  EXPECT_TRUE(lines[0]["libtorch"].is_string());
  EXPECT_TRUE(lines[0]["cuda_available"].is_boolean());
  EXPECT_TRUE(lines[0]["cuda_device_count"].is_number_integer());
  if (lines[0]["cuda_available"] == false) {
    Process gpu = RunTrainer({"--device", "cuda:0", "--epochs", "0"});
    EXPECT_EQ(gpu.exit_code, 5);
    EXPECT_NE(gpu.err.find("CUDA is not available"), std::string::npos) << gpu.err;
  }
}

TEST(TrainBinaryTest, BadFlagsAndConfigsExit2NamingTheKey) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--model", "lstn"}, "model: unknown value 'lstn'"},
           {{"--model", "lstm", "--attention", "softmax"}, "attention:"},
           {{"--model", "transformer", "--heads", "3", "--preset", "paper"},
            "heads: 3 does not divide width (20, from preset paper)"},
           {{"--layers", "-1"}, "layers: -1 is out of range"},
           {{"--layrs", "2"}, "did you mean --layers?"},
           {{"--batch-size"}, "--batch-size needs a value"},
           {{"--device", "gpu"}, "device: unknown device 'gpu'"},
           {{"--kernels", "flash"}, "unknown kernel path 'flash'"},
           {{"--resume"}, "--resume needs --checkpoint-dir"},
           {{"--config", "/nonexistent/job.json"}, "cannot read"}}) {
    Process p = RunTrainer(c.args);
    EXPECT_EQ(p.exit_code, 2) << c.message;
    EXPECT_NE(p.err.find(c.message), std::string::npos) << p.err;
    EXPECT_TRUE(p.out.empty()) << p.out;
  }
}

TEST(TrainBinaryTest, ConfigFileThenFlagsOverride) {
  TempDir dir;
  fs::create_directories(dir.str());
  const std::string path = dir.str() + "/job.json";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(R"({"model":"lstm","preset":"paper","epochs":3})", f);
  fclose(f);
  Process p = RunTrainer({"--epochs", "7", "--config", path, "--epochs=0"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  auto lines = p.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["parameters"], 3692036);  // the paper LSTM, IARC
  EXPECT_EQ(lines[0]["epochs"], 0);
}

TEST(TrainBinaryTest, NanLossExits3) {
  Process p = RunTrainer(Plus(QuickJob(2), {"--debug-nan-at-step", "4"}));
  EXPECT_EQ(p.exit_code, 3) << p.err;
  auto lines = p.Lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["exit_code"], 3);
  EXPECT_EQ(lines.back()["step"], 4);
}

TEST(TrainBinaryTest, SigtermCheckpointsExits4AndResumeMatchesAStraightRun) {
  constexpr int kEpochs = 400;  // far more than run before the signal
  TempDir dir;
  int signalled_after_epoch = -1;
  Process stopped =
      RunTrainer(Plus(QuickJob(kEpochs), {"--checkpoint-dir", dir.str()}),
                 [&](const std::string& line, pid_t pid) {
                   Json json = Json::parse(line);
                   if (signalled_after_epoch < 0 && json.contains("epoch") &&
                       json["epoch"] == 2) {
                     signalled_after_epoch = 2;
                     kill(pid, SIGTERM);
                   }
                 });
  ASSERT_EQ(stopped.exit_code, 4) << stopped.err;
  auto lines = stopped.Lines();
  ASSERT_FALSE(lines.empty());
  const Json& last = lines.back();
  ASSERT_TRUE(last.contains("checkpoint")) << last.dump();
  EXPECT_TRUE(fs::exists(last["checkpoint"].get<std::string>()));
  const int64_t stop_step = last["step"];
  int64_t epochs_done = 0;
  for (const Json& line : lines) {
    if (line.contains("epoch")) epochs_done = line["epoch"];
    EXPECT_FALSE(line.contains("summary"));
  }
  ASSERT_LT(epochs_done, kEpochs);

  // Resume to two epochs past the stop and compare with a straight run.
  const int target = static_cast<int>(epochs_done) + 2;
  Process resumed = RunTrainer(
      Plus(QuickJob(target), {"--checkpoint-dir", dir.str(), "--resume"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  TempDir straight_dir;
  Process straight = RunTrainer(
      Plus(QuickJob(target), {"--checkpoint-dir", straight_dir.str()}));
  ASSERT_EQ(straight.exit_code, 0) << straight.err;

  std::vector<Json> joined;
  for (const Process* p : {&stopped, &resumed}) {
    for (Json line : p->Lines()) {
      if (!line.contains("epoch") || line.contains("summary")) continue;
      line.erase("samples_per_sec");
      joined.push_back(line);
    }
  }
  std::vector<Json> reference;
  for (Json line : straight.Lines()) {
    if (!line.contains("epoch") || line.contains("summary")) continue;
    line.erase("samples_per_sec");
    reference.push_back(line);
  }
  // Equal to the last bit: the same binary, machine and thread count, so the
  // same kernels in the same order (see trainer_test.cc's ExpectSameRun).
  ASSERT_EQ(joined.size(), reference.size());
  for (size_t i = 0; i < joined.size(); ++i) {
    EXPECT_EQ(joined[i].dump(), reference[i].dump()) << i;
  }
  // The first epoch line after the resume follows the checkpointed step.
  auto resumed_lines = resumed.Lines();
  for (const Json& line : resumed_lines) {
    if (line.contains("epoch") && !line.contains("summary")) {
      EXPECT_GT(line["step"].get<int64_t>(), stop_step);
      EXPECT_LE(line["step"].get<int64_t>(), stop_step + 3);
      break;
    }
  }
}

}  // namespace
