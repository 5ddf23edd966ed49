// A full disk: the coordinator's data folder on a small tmpfs that the test
// mounts and then fills with a ballast file while a real worker runs real
// (tiny) training jobs. While the disk is full every write must fail with
// UNAVAILABLE and reads must go on; the worker must keep its unacknowledged
// metric batches and replay them once the ballast is deleted; the sweep
// must then finish with every epoch's metrics stored once, nothing stored
// before the disk filled lost, and PRAGMA integrity_check ok.
//
// Needs root (mount(2)); without it, or where mounting is refused (a
// container without CAP_SYS_ADMIN), the test is skipped with the reason,
// except under CI=true, where that is a failure.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/rpc/auth.h"
#include "common/rpc/channel.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness/harness.h"
#include "tests/reliability/database_checks.h"

namespace switchyard::reliability {
namespace {

using e2e::Axis;
namespace v1 = ::switchyard::v1;

constexpr int kTmpfsMib = 24;
constexpr int kJobs = 2;
constexpr int kEpochs = 150;
constexpr int kStepsPerEpoch = 10;
const std::vector<std::string> kAlwaysThere = {"epoch", "loss", "eval_loss",
                                               "accuracy", "accuracy_last"};

// A tmpfs of its own at `path`, unmounted on destruction (lazily if still
// busy). It is mounted in a mount namespace of the calling thread's own (the
// test's main thread, which starts every process of the test), so the host
// never sees it and it goes away with the last of those processes even when
// the test is killed before the destructor runs.
class TmpfsMount {
 public:
  static absl::StatusOr<std::unique_ptr<TmpfsMount>> Mount(
      const std::string& path, int mib) {
    if (geteuid() != 0)
      return absl::PermissionDeniedError("not root: mount(2) needs root");
    std::filesystem::create_directories(path);
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("a private mount namespace: ", std::strerror(errno)));
    }
    const std::string data = absl::StrCat("size=", mib, "m,mode=0700");
    if (mount("switchyard-full-disk", path.c_str(), "tmpfs",
              MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          "mount -t tmpfs -o ", data, " ", path, ": ", std::strerror(errno)));
    }
    return std::unique_ptr<TmpfsMount>(new TmpfsMount(path));
  }
  ~TmpfsMount() {
    if (umount2(path_.c_str(), 0) != 0) umount2(path_.c_str(), MNT_DETACH);
  }

 private:
  explicit TmpfsMount(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Writes `path` until the file system has no byte left (ENOSPC at 512-byte
// writes). The bytes written.
int64_t FillWithBallast(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  std::string chunk(1 << 20, 'b');
  int64_t total = 0;
  for (size_t size = chunk.size(); size >= 512; size /= 4) {
    while (true) {
      ssize_t n = write(fd, chunk.data(), size);
      if (n <= 0) break;
      total += n;
      if (static_cast<size_t>(n) < size) break;
    }
  }
  close(fd);
  return total;
}

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<e2e::TempDir>("switchyard-full-disk");
    absl::StatusOr<std::unique_ptr<TmpfsMount>> mounted =
        TmpfsMount::Mount(*dir_ / "disk", kTmpfsMib);
    if (!mounted.ok()) {
      // In CI (CI=true) the test must run: a runner that cannot mount is
      // noticed rather than skipped for ever.
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        FAIL() << "CI=true, and the test cannot make a small file system: "
               << mounted.status();
      }
      GTEST_SKIP() << "cannot make a small file system: " << mounted.status();
    }
    mount_ = *std::move(mounted);
    // A lease far longer than the time the disk stays full, so that the
    // worker keeps its attempts and replays into them.
    coordinator_ = std::make_unique<e2e::Coordinator>(
        *dir_ / "disk/data", dir_->path(),
        e2e::CoordinatorOptions{.lease_seconds = 60, .heartbeat_seconds = 1});
    absl::Status started = coordinator_->Start();
    ASSERT_TRUE(started.ok()) << started;
    auto client = e2e::Client::Connect(*coordinator_);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  void TearDown() override {
    if (HasFailure() && coordinator_ != nullptr) {
      std::cerr << "--- coordinator log (tail)\n"
                << e2e::Tail(coordinator_->log_path(), 40);
      if (worker_ != nullptr) {
        std::cerr << "--- worker log (tail)\n"
                  << e2e::Tail(worker_->log_path(), 60);
      }
      dir_->keep();
      std::cerr << "--- work folder kept: " << dir_->path()
                << " (the data folder was on the tmpfs)\n";
    }
    worker_.reset();
    coordinator_.reset();
    mount_.reset();  // after every process that had files on it
  }

  // A write through the worker service: registering a worker adds a row.
  grpc::Status RegisterProbe() {
    common::ChannelOptions options;
    options.target = coordinator_->address();
    options.token = *common::ReadTokenFile(coordinator_->worker_token_file());
    auto stub = v1::WorkerService::NewStub(*common::MakeChannel(options));
    v1::RegisterWorkerRequest request;
    request.set_name("full-disk-probe");
    v1::Device* device = request.add_devices();
    device->set_name("cpu");
    device->set_kind("cpu");
    device->set_slots(1);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    v1::RegisterWorkerResponse response;
    return stub->RegisterWorker(&context, request, &response);
  }

  std::unique_ptr<e2e::TempDir> dir_;
  std::unique_ptr<TmpfsMount> mount_;
  std::unique_ptr<e2e::Coordinator> coordinator_;
  std::unique_ptr<e2e::Client> client_;
  std::unique_ptr<e2e::Worker> worker_;
};

TEST_F(FullDiskTest, WritesFailUnavailableAndTheWorkerReplaysOnceSpaceIsFreed) {
  worker_ = std::make_unique<e2e::Worker>(
      *coordinator_, dir_->path(),
      e2e::WorkerOptions{.name = "alpha", .slots = kJobs});
  ASSERT_TRUE(worker_->Start().ok());
  absl::StatusOr<int64_t> sweep_id = client_->Submit(e2e::TinySweep(
      "full-disk", {Axis("seed", {int64_t{1}, int64_t{2}}),
                    Axis("epochs", {int64_t{kEpochs}}),
                    Axis("steps_per_epoch", {int64_t{kStepsPerEpoch}}),
                    Axis("checkpoint_every", {int64_t{5 * kStepsPerEpoch}})}));
  ASSERT_TRUE(sweep_id.ok()) << sweep_id.status();

  // Some epochs of both jobs are stored (so acknowledged) before the disk
  // fills.
  std::vector<v1::JobMetricPoint> before;
  ASSERT_TRUE(e2e::WaitUntil(
      [&] {
        auto points = client_->QueryMetrics(*sweep_id);
        if (!points.ok()) return false;
        std::set<int64_t> jobs;
        for (const auto& p : *points) jobs.insert(p.job_id());
        before = *points;
        return jobs.size() == kJobs &&
               points->size() >= 4 * kAlwaysThere.size();
      },
      absl::Minutes(2)));

  // Fill the disk. The coordinator may still squeeze a few writes into pages
  // SQLite already holds; probe until a write fails.
  const int64_t ballast = FillWithBallast(*dir_ / "disk/ballast");
  ASSERT_GT(ballast, 0);
  grpc::Status probe;
  int probes = 0;
  ASSERT_TRUE(e2e::WaitUntil(
      [&] {
        ++probes;
        probe = RegisterProbe();
        return !probe.ok();
      },
      absl::Minutes(1)))
      << "every write still succeeds on a full disk";
  EXPECT_EQ(probe.error_code(), grpc::StatusCode::UNAVAILABLE)
      << probe.error_message();
  std::cout << "ballast " << ballast / 1024 << " KiB; the write failed after "
            << probes << " probes: " << probe.error_message() << "\n";

  // A user's write fails the same way; reads go on. The database is in WAL
  // mode: after a checkpoint SQLite writes the log from its start again, into
  // blocks the file already holds, so a small write can still land on a full
  // disk. Probe the same way: the first submit refused must be UNAVAILABLE.
  absl::Status refused;
  int submits = 0;
  ASSERT_TRUE(e2e::WaitUntil(
      [&] {
        ++submits;
        refused = client_
                      ->Submit(e2e::TinySweep("refused",
                                              {Axis("seed", {int64_t{9}})}))
                      .status();
        return !refused.ok();
      },
      absl::Minutes(1)))
      << "every submit still succeeds on a full disk";
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  std::cout << "the submit failed after " << submits << " tries\n";
  absl::StatusOr<v1::Sweep> during = client_->GetSweep(*sweep_id);
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_EQ(during->state(), v1::SWEEP_STATE_ACTIVE);

  // The worker sees its metric stream refused and keeps the batches. Let
  // several more epochs pile up before space comes back.
  EXPECT_TRUE(worker_->WaitForLog("metric stream lost (UNAVAILABLE",
                                  absl::Seconds(30)));
  absl::SleepFor(absl::Seconds(5));
  ASSERT_EQ(unlink((*dir_ / "disk/ballast").c_str()), 0);

  absl::StatusOr<v1::Sweep> sweep =
      client_->WaitForSweep(*sweep_id, absl::Minutes(3));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->counts().succeeded(), kJobs) << sweep->DebugString();
  EXPECT_GE(
      e2e::CountText(worker_->log_path(), "metric stream back; replaying"), 1)
      << "the worker did not replay batches";

  // Every epoch of every job once; everything stored before is unchanged.
  absl::StatusOr<std::vector<v1::JobMetricPoint>> after =
      client_->QueryMetrics(*sweep_id);
  ASSERT_TRUE(after.ok()) << after.status();
  std::vector<int64_t> expected;
  for (int e = 1; e <= kEpochs; ++e)
    expected.push_back(int64_t{e} * kStepsPerEpoch);
  auto steps = e2e::StepsByJobAndName(*after);
  std::set<int64_t> jobs;
  for (const auto& p : *after) jobs.insert(p.job_id());
  EXPECT_EQ(jobs.size(), static_cast<size_t>(kJobs));
  for (int64_t job : jobs) {
    for (const std::string& name : kAlwaysThere) {
      EXPECT_EQ(steps[std::make_pair(job, name)], expected)
          << "job " << job << " metric " << name;
    }
  }
  std::map<std::tuple<int64_t, std::string, int64_t>, double> stored;
  for (const auto& p : *after)
    stored[{p.job_id(), p.point().name(), p.point().step()}] =
        p.point().value();
  EXPECT_EQ(stored.size(), after->size()) << "a point is stored twice";
  for (const auto& p : before) {
    auto it = stored.find({p.job_id(), p.point().name(), p.point().step()});
    ASSERT_NE(it, stored.end())
        << "lost: job " << p.job_id() << " " << p.point().name() << " step "
        << p.point().step();
    EXPECT_EQ(it->second, p.point().value());
  }

  // No half-written checkpoint file is left behind.
  int partial = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           *dir_ / "disk/data/checkpoints")) {
    if (entry.path().extension() == ".partial") ++partial;
  }
  EXPECT_EQ(partial, 0);

  // And the file is sound.
  const std::string worker_log = worker_->log_path();
  worker_.reset();
  coordinator_->Stop();
  auto db = OpenReadOnly(*dir_ / "disk/data/switchyard.db");
  ASSERT_TRUE(db.ok()) << db.status();
  absl::StatusOr<std::string> integrity = IntegrityCheck(**db);
  ASSERT_TRUE(integrity.ok()) << integrity.status();
  EXPECT_EQ(*integrity, "ok");
  std::cout << "stream losses: "
            << e2e::CountText(worker_log, "metric stream lost (UNAVAILABLE")
            << ", failed checkpoint uploads: "
            << e2e::CountText(worker_log,
                              "checkpoint upload failed (UNAVAILABLE")
            << ", replays: "
            << e2e::CountText(worker_log, "metric stream back; replaying")
            << ", points stored: " << after->size() << " (" << before.size()
            << " before the disk filled)\n";
}

}  // namespace
}  // namespace switchyard::reliability
