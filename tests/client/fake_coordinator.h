// An in-memory CoordinatorClient for the CLI's tests: holds sweeps, jobs,
// metric points and workers that a test puts in, records what the CLI asked
// for, and can fail every call with a given status.
//
// Thread safety: WatchSweep readers are read on the watch command's pump
// thread while the test's command thread calls ListJobs; a mutex guards the
// state.
#ifndef SWITCHYARD_TESTS_CLIENT_FAKE_COORDINATOR_H_
#define SWITCHYARD_TESTS_CLIENT_FAKE_COORDINATOR_H_

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/coordinator_client.h"
#include "client/errors.h"

namespace switchyard::client::testing {

struct FakeState {
  std::mutex mutex;
  std::vector<pb::Sweep> sweeps;
  std::vector<pb::Job> jobs;
  std::vector<pb::JobMetricPoint> points;  // in (job, name, step) order
  std::vector<pb::Worker> workers;
  std::deque<pb::SweepEvent> events;  // what WatchSweep streams, then it ends
  absl::Status fail_with;             // non-OK: every call returns it
  std::vector<pb::SubmitSweepRequest> submitted;
  std::vector<pb::CancelRequest> cancelled;
  std::vector<pb::RetrySweepRequest> retried;
  int64_t next_sweep_id = 7;
  int list_jobs_calls = 0;
  // The views' RPCs (issue 15): canned answers and what was asked.
  pb::QuerySeriesResponse series;
  std::vector<pb::QuerySeriesRequest> series_requests;
  pb::AggregateResponse aggregate;
  std::vector<pb::AggregateRequest> aggregate_requests;
  std::vector<pb::CheckpointInfo> checkpoints;        // ListCheckpoints filters by job
  std::deque<pb::TailMetricsResponse> tail;           // what TailMetrics streams
  // Streams: with block_streams, a reader with nothing to read waits for
  // more (pushed under the mutex, then stream_cv.notify_all()) or Cancel()
  // instead of ending. Counters of streams opened and open now.
  bool block_streams = false;
  std::condition_variable stream_cv;
  int watch_opened = 0;
  int tail_opened = 0;
  int watch_open = 0;
  int tail_open = 0;
};

class FakeCoordinator final : public CoordinatorClient {
 public:
  explicit FakeCoordinator(std::shared_ptr<FakeState> state) : state_(std::move(state)) {}

  absl::StatusOr<pb::SubmitSweepResponse> SubmitSweep(const pb::SubmitSweepRequest& r) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    state_->submitted.push_back(r);
    pb::SubmitSweepResponse response;
    response.set_sweep_id(state_->next_sweep_id++);
    response.set_job_count(12);
    return response;
  }
  absl::StatusOr<pb::Sweep> GetSweep(int64_t id) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    for (const pb::Sweep& s : state_->sweeps) {
      if (s.id() == id) return s;
    }
    return ServerError(
        grpc::Status(grpc::StatusCode::NOT_FOUND, "sweep " + std::to_string(id) + ": not found"));
  }
  absl::StatusOr<std::vector<pb::Sweep>> ListSweeps() override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    return state_->sweeps;
  }
  absl::StatusOr<std::unique_ptr<SweepEventReader>> WatchSweep(int64_t) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    ++state_->watch_opened;
    ++state_->watch_open;
    return std::unique_ptr<SweepEventReader>(new Reader(state_));
  }
  absl::StatusOr<pb::CancelResponse> Cancel(const pb::CancelRequest& r) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    state_->cancelled.push_back(r);
    pb::CancelResponse response;
    response.set_cancelled_pending(3);
    response.set_cancel_ordered(1);
    return response;
  }
  absl::StatusOr<pb::RetrySweepResponse> RetrySweep(const pb::RetrySweepRequest& r) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    state_->retried.push_back(r);
    pb::RetrySweepResponse response;
    response.set_requeued(2);
    return response;
  }
  absl::StatusOr<std::vector<pb::Job>> ListJobs(int64_t sweep_id, pb::JobState state) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    ++state_->list_jobs_calls;
    if (!state_->fail_with.ok()) return state_->fail_with;
    std::vector<pb::Job> jobs;
    for (const pb::Job& j : state_->jobs) {
      if (j.sweep_id() == sweep_id && (state == pb::JOB_STATE_UNSPECIFIED || j.state() == state)) {
        jobs.push_back(j);
      }
    }
    return jobs;
  }
  absl::StatusOr<pb::Job> GetJob(int64_t id) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    for (const pb::Job& j : state_->jobs) {
      if (j.id() == id) return j;
    }
    return ServerError(
        grpc::Status(grpc::StatusCode::NOT_FOUND, "job " + std::to_string(id) + ": not found"));
  }
  absl::Status QueryMetrics(
      const pb::QueryMetricsRequest& request,
      const std::function<absl::Status(const pb::JobMetricPoint&)>& sink) override {
    std::vector<pb::JobMetricPoint> points;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (!state_->fail_with.ok()) return state_->fail_with;
      for (const pb::JobMetricPoint& p : state_->points) {
        bool job_ok = request.job_ids().empty();
        for (int64_t id : request.job_ids()) job_ok = job_ok || id == p.job_id();
        bool name_ok = request.names().empty();
        for (const std::string& n : request.names()) name_ok = name_ok || n == p.point().name();
        if (job_ok && name_ok) points.push_back(p);
      }
    }
    for (const pb::JobMetricPoint& p : points) {
      if (absl::Status s = sink(p); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<pb::Worker>> ListWorkers() override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    return state_->workers;
  }
  absl::StatusOr<pb::Worker> UnquarantineWorker(int64_t worker_id) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    for (pb::Worker& w : state_->workers) {
      if (w.id() != worker_id) continue;
      w.set_quarantined(false);
      w.set_environment_failures(0);
      w.set_state("alive");
      return w;
    }
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " does not exist"));
  }
  absl::StatusOr<pb::QuerySeriesResponse> QuerySeries(const pb::QuerySeriesRequest& r) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    state_->series_requests.push_back(r);
    if (auto s = FindSweep(r.sweep_id()); !s.ok()) return s;
    return state_->series;
  }
  absl::StatusOr<pb::AggregateResponse> Aggregate(const pb::AggregateRequest& r) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    state_->aggregate_requests.push_back(r);
    if (auto s = FindSweep(r.sweep_id()); !s.ok()) return s;
    return state_->aggregate;
  }
  absl::StatusOr<std::unique_ptr<MetricTailReader>> TailMetrics(
      const pb::TailMetricsRequest&) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    ++state_->tail_opened;
    ++state_->tail_open;
    return std::unique_ptr<MetricTailReader>(new TailReader(state_));
  }
  absl::StatusOr<std::vector<pb::CheckpointInfo>> ListCheckpoints(int64_t job_id) override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->fail_with.ok()) return state_->fail_with;
    std::vector<pb::CheckpointInfo> found;
    for (const pb::CheckpointInfo& c : state_->checkpoints) {
      if (c.job_id() == job_id) found.push_back(c);
    }
    return found;
  }

 private:
  class Reader final : public SweepEventReader {
   public:
    explicit Reader(std::shared_ptr<FakeState> state) : state_(std::move(state)) {}
    ~Reader() override {
      std::lock_guard<std::mutex> lock(state_->mutex);
      --state_->watch_open;
    }
    bool Read(pb::SweepEvent* event) override {
      std::unique_lock<std::mutex> lock(state_->mutex);
      if (state_->block_streams) {
        state_->stream_cv.wait(lock, [&] { return cancelled_ || !state_->events.empty(); });
      }
      if (cancelled_ || state_->events.empty()) return false;
      *event = state_->events.front();
      state_->events.pop_front();
      return true;
    }
    absl::Status Finish() override {
      return cancelled_ ? absl::CancelledError("cancelled") : absl::OkStatus();
    }
    void Cancel() override {
      std::lock_guard<std::mutex> lock(state_->mutex);
      cancelled_ = true;
      state_->stream_cv.notify_all();
    }

   private:
    std::shared_ptr<FakeState> state_;
    bool cancelled_ = false;  // guarded by state_->mutex
  };

  class TailReader final : public MetricTailReader {
   public:
    explicit TailReader(std::shared_ptr<FakeState> state) : state_(std::move(state)) {}
    ~TailReader() override {
      std::lock_guard<std::mutex> lock(state_->mutex);
      --state_->tail_open;
    }
    bool Read(pb::TailMetricsResponse* batch) override {
      std::unique_lock<std::mutex> lock(state_->mutex);
      if (state_->block_streams) {
        state_->stream_cv.wait(lock, [&] { return cancelled_ || !state_->tail.empty(); });
      }
      if (cancelled_ || state_->tail.empty()) return false;
      *batch = state_->tail.front();
      state_->tail.pop_front();
      return true;
    }
    absl::Status Finish() override {
      return cancelled_ ? absl::CancelledError("cancelled") : absl::OkStatus();
    }
    void Cancel() override {
      std::lock_guard<std::mutex> lock(state_->mutex);
      cancelled_ = true;
      state_->stream_cv.notify_all();
    }

   private:
    std::shared_ptr<FakeState> state_;
    bool cancelled_ = false;  // guarded by state_->mutex
  };

  // NOT_FOUND as the coordinator says it, for an unknown sweep; the mutex is held.
  absl::Status FindSweep(int64_t id) {
    for (const pb::Sweep& s : state_->sweeps) {
      if (s.id() == id) return absl::OkStatus();
    }
    return ServerError(
        grpc::Status(grpc::StatusCode::NOT_FOUND, "sweep " + std::to_string(id) + ": not found"));
  }

  std::shared_ptr<FakeState> state_;
};

}  // namespace switchyard::client::testing

#endif  // SWITCHYARD_TESTS_CLIENT_FAKE_COORDINATOR_H_
