// Test doubles for the worker daemon's seams: a FakeCoordinator
// (CoordinatorClient without a network) and a FakeLauncher whose trainers
// are scripted by the test. Both are thread-safe and let a test wait for a
// condition with a timeout instead of sleeping.
#ifndef SWITCHYARD_TESTS_WORKER_AGENT_FAKES_H_
#define SWITCHYARD_TESTS_WORKER_AGENT_FAKES_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "worker/agent/coordinator_client.h"
#include "worker/agent/trainer_launcher.h"

namespace switchyard::worker::testing {

// Waits until `done()` under `lock`, up to `timeout`.
template <typename Pred>
bool WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
             absl::Duration timeout, Pred done) {
  return cv.wait_for(lock, absl::ToChronoMilliseconds(timeout), done);
}

class FakeCoordinator : public CoordinatorClient {
 public:
  // What the fake coordinator does with one metric batch written on a stream:
  // OK stores it (and acks it when `should_ack` says so); another status ends
  // the stream with that status, without storing or acking it.
  using MetricPolicy = std::function<absl::Status(const v1::MetricBatch&)>;

  FakeCoordinator();
  ~FakeCoordinator() override;

  // ---- CoordinatorClient
  absl::StatusOr<v1::RegisterWorkerResponse> RegisterWorker(
      const v1::RegisterWorkerRequest& request) override;
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request) override;
  absl::StatusOr<v1::ClaimJobResponse> ClaimJob(const v1::ClaimJobRequest& request) override;
  absl::StatusOr<v1::FinishJobResponse> FinishJob(const v1::FinishJobRequest& request) override;
  absl::StatusOr<std::unique_ptr<MetricStream>> OpenMetricStream() override;
  absl::StatusOr<int64_t> PutCheckpoint(const v1::AttemptRef& ref, int64_t step,
                                        const std::string& path) override;
  absl::StatusOr<DownloadedCheckpoint> GetCheckpoint(const v1::AttemptRef& ref,
                                                     int64_t checkpoint_id,
                                                     const std::string& dest_path) override;

  // ---- scripting (call from the test thread; all thread-safe)
  void SetMetricPolicy(MetricPolicy policy);
  void SetShouldAck(std::function<bool(int64_t seq)> should_ack);
  void SetOpenStatus(absl::Status status);  // OpenMetricStream's answer
  // Ends every open metric stream with `status`; acks not yet read are lost.
  void BreakStreams(absl::Status status);
  void PushRegisterResult(absl::StatusOr<v1::RegisterWorkerResponse> result);
  // Handed out by the next ClaimJob, or by a FinishJob with claim_next.
  void PushClaim(v1::Assignment assignment);
  void SetHeartbeatHandler(
      std::function<absl::StatusOr<v1::HeartbeatResponse>(const v1::HeartbeatRequest&)> handler);
  void SetFinishStatus(absl::Status status);
  // FinishJob's answer when the request carries claim_next (OK: as usual).
  void SetClaimNextStatus(absl::Status status);
  void SetPutCheckpointStatus(absl::Status status);
  void AddCheckpoint(int64_t id, int64_t step, std::string bytes);

  // ---- observations
  struct PutCall {
    v1::AttemptRef attempt;
    int64_t step = 0;
    std::string bytes;
    int64_t stored_batches_before = 0;  // metric batches stored when it came
  };
  struct FinishCall {
    v1::FinishJobRequest request;
    int64_t stored_batches_before = 0;
  };
  std::vector<int64_t> written_seqs() const;      // every write, in order, across streams
  std::map<int64_t, v1::MetricBatch> stored() const;  // seq -> first stored copy
  int streams_opened() const;
  std::vector<PutCall> puts() const;
  std::vector<FinishCall> finishes() const;
  std::vector<v1::RegisterWorkerRequest> registrations() const;
  std::vector<v1::HeartbeatRequest> heartbeats() const;
  int claims() const;

  // Waits until `pred()` holds, polling; `pred` may call the observers.
  bool WaitUntil(const std::function<bool()>& pred, absl::Duration timeout = absl::Seconds(10));
  // Wakes waiters; tests call it after changing state they wait on elsewhere.
  void Notify();

 private:
  class Stream;
  friend class Stream;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  MetricPolicy policy_;
  std::function<bool(int64_t)> should_ack_;
  absl::Status open_status_;
  std::vector<Stream*> open_streams_;
  std::vector<int64_t> written_;
  std::map<int64_t, v1::MetricBatch> stored_;
  int streams_opened_ = 0;
  std::deque<absl::StatusOr<v1::RegisterWorkerResponse>> register_results_;
  std::vector<v1::RegisterWorkerRequest> registrations_;
  std::deque<v1::Assignment> claims_;
  int claim_calls_ = 0;
  std::function<absl::StatusOr<v1::HeartbeatResponse>(const v1::HeartbeatRequest&)> heartbeat_;
  std::vector<v1::HeartbeatRequest> heartbeats_;
  absl::Status finish_status_;
  absl::Status claim_next_status_;
  std::vector<FinishCall> finishes_;
  absl::Status put_status_;
  std::vector<PutCall> puts_;
  std::map<int64_t, std::pair<int64_t, std::string>> checkpoints_;
};

// A scripted trainer. The test drives it through FakeLauncher::WaitForProcess.
class FakeTrainer : public TrainerProcess, public std::enable_shared_from_this<FakeTrainer> {
 public:
  explicit FakeTrainer(TrainerSpec spec);

  // ---- TrainerProcess
  ReadResult ReadLine(absl::Duration timeout, std::string* line) override;
  void Terminate() override;
  void Kill() override;
  std::optional<ExitInfo> Wait(absl::Duration timeout) override;
  std::string StderrTail(size_t max_bytes) const override;

  // ---- scripting
  void Emit(const std::string& line);
  void WriteStderr(const std::string& text);
  void Exit(int code);             // closes stdout, then exits
  void Crash(int signal);          // dies by a signal
  // What SIGTERM does; the default writes ckpt-<step>.pt, prints its line and
  // exits 4 (the trainer's contract), with step = last emitted step + 1.
  void SetOnTerminate(std::function<void(FakeTrainer*)> handler);
  // Writes <checkpoint-dir>/ckpt-<step>.pt holding `bytes`, then prints its line.
  void Checkpoint(int64_t step, const std::string& bytes = "weights");

  const TrainerSpec& spec() const { return spec_; }
  std::string checkpoint_dir() const;
  int terminates() const;
  int kills() const;
  bool exited() const;

 private:
  const TrainerSpec spec_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> lines_;
  bool stdout_closed_ = false;
  std::optional<ExitInfo> exit_;
  std::string stderr_;
  int terminates_ = 0;
  int kills_ = 0;
  int64_t last_step_ = 0;
  std::function<void(FakeTrainer*)> on_terminate_;
};

class FakeLauncher : public TrainerLauncher {
 public:
  absl::StatusOr<std::unique_ptr<TrainerProcess>> Launch(const TrainerSpec& spec) override;

  void SetLaunchStatus(absl::Status status);
  // Called on each new trainer before Launch returns (e.g. to script it).
  void SetOnLaunch(std::function<void(FakeTrainer*)> on_launch);
  // The n-th (0-based) trainer launched, waiting for it up to `timeout`;
  // nullptr when none came.
  std::shared_ptr<FakeTrainer> WaitForProcess(size_t n,
                                              absl::Duration timeout = absl::Seconds(10));
  size_t launches() const;
  std::vector<TrainerSpec> specs() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  absl::Status launch_status_;
  std::function<void(FakeTrainer*)> on_launch_;
  std::vector<std::shared_ptr<FakeTrainer>> launched_;
  std::vector<TrainerSpec> specs_;
};

}  // namespace switchyard::worker::testing

#endif  // SWITCHYARD_TESTS_WORKER_AGENT_FAKES_H_
