// Simulated workers for benchmarks and reliability tests: a real
// switchyard-coordinator child process, and in-process "workers" that speak
// the worker protocol over real gRPC (register, heartbeat, claim, one
// ReportMetrics stream per attempt, finish) without training anything.
//
// A SimWorker follows the real worker's metric contract (docs/worker.md):
// every batch is kept until an acknowledgement covers it; a broken stream is
// reopened and exactly the unacknowledged batches are replayed, oldest first;
// a stale fencing pair (FAILED_PRECONDITION) drops the attempt. Points are
// deterministic in (job, step, metric), so a batch replayed by a later
// attempt of the same job carries the same values.
//
// Used by bench/coordinator, tests/reliability/load_soak.cc and
// tests/reliability/crash_loop_test.cc.
//
// Threads: a CoordinatorProcess belongs to one thread. Each SimWorker runs on
// a thread of its own between Start() and Join(); Stop(), stats() and the
// observer's callbacks may be used from other threads (the observer is called
// on the workers' threads, concurrently).
#ifndef SWITCHYARD_BENCH_SIM_SIM_WORKERS_H_
#define SWITCHYARD_BENCH_SIM_SIM_WORKERS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "switchyard/v1/switchyard.grpc.pb.h"

namespace switchyard::sim {

namespace v1 = ::switchyard::v1;

// ------------------------------------------------------------ coordinator

struct CoordinatorFlags {
  std::string binary;  // path of switchyard-coordinator
  std::string data_dir;
  std::string listen = "127.0.0.1:0";  // a restart passes the address it had
  std::string sync = "full";
  double lease_seconds = 30;  // the coordinator's defaults
  double heartbeat_seconds = 5;
  std::string
      log_path;  // stdout and stderr; empty: coordinator.log beside data_dir
};

// A switchyard-coordinator child. It gets PR_SET_PDEATHSIG = SIGKILL, so it
// never outlives the process that started it.
class CoordinatorProcess {
 public:
  // Starts it and waits (up to `timeout`) for "listening on HOST:PORT".
  // UNAVAILABLE with the log's tail when it does not come up.
  static absl::StatusOr<std::unique_ptr<CoordinatorProcess>> Start(
      const CoordinatorFlags& flags,
      absl::Duration timeout = absl::Seconds(60));
  ~CoordinatorProcess();  // SIGKILL and reap when still running
  CoordinatorProcess(const CoordinatorProcess&) = delete;
  CoordinatorProcess& operator=(const CoordinatorProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }
  const std::string& client_token() const { return client_token_; }
  const std::string& worker_token() const { return worker_token_; }

  // Sends `signal` and waits for the exit; the wait status.
  int Kill(int signal);
  // SIGTERM and wait (SIGKILL after 30 s); the wait status.
  int Stop();
  // VmRSS from /proc/PID/status in KiB; -1 when it cannot be read.
  int64_t RssKib() const { return StatusField("VmRSS"); }
  // Its threads (Threads from /proc/PID/status); -1 when unreadable.
  int64_t Threads() const { return StatusField("Threads"); }

 private:
  CoordinatorProcess() = default;
  int64_t StatusField(const std::string& name) const;
  pid_t pid_ = 0;
  bool reaped_ = false;
  std::string address_, client_token_, worker_token_;
};

// ---------------------------------------------------------------- channels

struct ChannelFlags {
  // A TCP connection of this channel's own, as a worker daemon has (gRPC
  // otherwise shares one connection among channels with equal arguments).
  bool own_connection = false;
  // Reconnect within 100-500 ms of a restarted coordinator instead of gRPC's
  // default backoff (1 s doubling to 2 min).
  bool fast_reconnect = false;
};
// A plaintext channel; the token travels with each call (Authorize).
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address,
                                          ChannelFlags flags = {});
// Adds `authorization: Bearer <token>` to a call; nothing for an empty token
// (for channels that attach it themselves, common/rpc/channel.h). The
// helpers below take their token the same way.
void Authorize(grpc::ClientContext* context, const std::string& token);

// --------------------------------------------------------------- helpers

// A sweep of `jobs` jobs (one seed axis 0..jobs-1, every other key default).
// The sweep id; the call's status on failure.
absl::StatusOr<int64_t> SubmitSeeds(v1::SweepService::Stub* stub,
                                    const std::string& token,
                                    const std::string& name, int64_t jobs,
                                    int priority = 0);
// Registers a worker with one CPU device of one slot.
absl::StatusOr<v1::RegisterWorkerResponse> RegisterCpuWorker(
    v1::WorkerService::Stub* stub, const std::string& token,
    const std::string& name);
// The q-quantile (0..1) of `values` (nearest rank); 0 when empty.
double Percentile(std::vector<double> values, double q);

// The value of point (job, step, metric): the same in every attempt.
double PointValue(int64_t job_id, int64_t step, int metric);
// The name of metric `metric`: "m0", "m1", ...
std::string MetricName(int metric);

// ------------------------------------------------------------ sim workers

// Callbacks from the workers' threads (concurrently: lock what you share).
class SimObserver {
 public:
  virtual ~SimObserver() = default;
  // The coordinator acknowledged `batch` of attempt `attempt_id` of job
  // `job_id`: its points are committed.
  virtual void Acked(int64_t job_id, int64_t attempt_id,
                     const v1::MetricBatch& batch) {}
};

struct SimWorkerOptions {
  std::string name;
  std::string token;  // the worker token
  std::string address;
  ChannelFlags channel;
  // A fresh channel after UNAVAILABLE, as the real worker does.
  bool new_channel_on_unavailable = true;
  int metrics_per_batch = 10;  // points per batch: one step of m0..mN-1
  int batches_per_job = 30;    // then FinishJob(SUCCEEDED)
  int first_job_batches = 0;   // the first job's length; 0: batches_per_job
  // A new batch each interval (0: as fast as acknowledgements come), while
  // fewer than max_ahead wait for theirs (the real uploader's window).
  absl::Duration batch_interval = absl::Seconds(1);
  int max_ahead = 64;
  // 0: the interval the coordinator names at registration.
  absl::Duration heartbeat_interval = absl::ZeroDuration();
  absl::Duration claim_interval = absl::Seconds(1);      // after an empty claim
  absl::Duration retry_delay = absl::Milliseconds(200);  // after a failed call
  absl::Duration call_deadline = absl::Seconds(30);      // unary calls
  SimObserver* observer = nullptr;  // not owned; may be null
  uint64_t seed = 1;                // staggers the first heartbeat and batch
};

struct SimWorkerStats {
  int64_t heartbeats = 0;
  std::vector<double> heartbeat_ms;  // latency of every successful heartbeat
  int64_t claims = 0, claims_empty = 0;
  int64_t batches_acked = 0, points_acked = 0;
  int64_t batches_replayed = 0;  // sent again on a reopened stream
  int64_t streams_opened = 0;
  int64_t jobs_finished = 0;     // FinishJob answered OK
  int64_t attempts_dropped = 0;  // fenced, abandoned or refused
  int64_t failed_calls = 0;      // every call or stream that ended in an error
  std::map<std::string, int64_t> errors;  // "Heartbeat: UNAVAILABLE" -> count
  std::string first_error;                // the first one's full message

  // Adds `other`'s counters and latencies; keeps the first error seen.
  void Add(const SimWorkerStats& other);
};

class SimWorker {
 public:
  explicit SimWorker(SimWorkerOptions options);
  ~SimWorker();  // Stop() and Join()
  SimWorker(const SimWorker&) = delete;
  SimWorker& operator=(const SimWorker&) = delete;

  void Start();
  // Asks the thread to end; it closes its stream without finishing the job.
  void Stop();
  void Join();
  // A copy of the counters (heartbeat_ms left out unless `with_latencies`).
  SimWorkerStats stats(bool with_latencies = false) const;
  // The heartbeat latencies recorded since the last call, moved out.
  std::vector<double> TakeHeartbeatLatencies();

 private:
  struct Job;
  enum class Outcome { kOk, kRetry, kFenced };
  void Run();
  bool Sleep(absl::Time until);  // false when stopped
  bool Register();
  // False when the coordinator ordered `job` away (cancel or abandon).
  bool Heartbeat(Job* job);
  void Claim(std::unique_ptr<Job>* job);
  // Sends every unacknowledged batch, each after the previous one's ack.
  Outcome Flush(Job* job);
  void CloseStream(Job* job);
  Outcome FinishJob(Job* job);
  void Failed(const char* call, const grpc::Status& status);
  void Reconnect();

  const SimWorkerOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  int64_t worker_id_ = 0;
  absl::Duration heartbeat_interval_;
  bool reconnect_wanted_ = false;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;     // guarded by mutex_
  SimWorkerStats stats_;  // guarded by mutex_
  std::thread thread_;
};

// The sum of the workers' counters (latencies left out), and how many of
// them never heartbeated.
SimWorkerStats Total(const std::vector<std::unique_ptr<SimWorker>>& workers,
                     int64_t* silent = nullptr);

}  // namespace switchyard::sim

#endif  // SWITCHYARD_BENCH_SIM_SIM_WORKERS_H_
