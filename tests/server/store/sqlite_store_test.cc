// SqliteStore against the Store contract (server/core/store.h) and the
// interpretations in server/store/sqlite_store.h. Every test opens its own
// database in its own temp folder; time is passed in, never read.
#include "server/store/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/core/state_machine.h"
#include "server/store/sqlite/database.h"
#include "tests/server/store/temp_dir.h"

namespace switchyard::server {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kLease = absl::Seconds(60);

std::string Config(const std::string& model, const std::string& attention, int seed) {
  return absl::StrCat("{\"attention\":\"", attention, "\",\"model\":\"", model,
                      "\",\"seed\":", seed, ",\"tasks\":\"IARC\"}");
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore();
    worker_ = RegisterWorker("w1");
  }

  std::unique_ptr<SqliteStore> OpenStore(int64_t max_page_count = 0) {
    SqliteStore::Options options;
    options.path = path_;
    options.read_connections = 2;
    options.max_page_count = max_page_count;
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  int64_t RegisterWorker(const std::string& name) {
    WorkerRecord worker;
    worker.name = name;
    worker.hostname = "host-" + name;
    worker.devices = {{"cuda:0", "cuda", 80ll << 30, 2, "NVIDIA H100"},
                      {"cpu", "cpu", 0, 1, "16 cores"}};
    worker.registered_at = worker.last_seen = now_;
    absl::StatusOr<int64_t> id = store_->RegisterWorker(worker);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(0);
  }

  // A sweep of `n` jobs with cell indexes 0..n-1 (inserted in reverse order,
  // so that ListJobs' ordering is visible).
  int64_t MakeSweep(int n, int priority = 0, int max_attempts = 3,
                    const std::string& name = "sweep") {
    SweepRecord sweep;
    sweep.name = name;
    sweep.priority = priority;
    sweep.max_attempts = max_attempts;
    sweep.spec_json = "{\"name\":\"" + name + "\"}";
    sweep.created_at = now_;
    std::vector<NewJob> jobs;
    for (int i = n - 1; i >= 0; --i) {
      jobs.push_back({i, absl::StrCat(name, "/cell", i),
                      Config(i % 2 == 0 ? "transformer" : "lstm",
                             i % 2 == 0 ? "softmax" : "none", i)});
    }
    absl::StatusOr<int64_t> id = store_->CreateSweep(sweep, jobs);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(0);
  }

  std::optional<Assignment> Claim(int64_t worker = 0, const std::string& token = "") {
    ClaimParams params;
    params.worker_id = worker != 0 ? worker : worker_;
    params.device = "cuda:0";
    params.fencing_token = token.empty() ? absl::StrCat("token-", ++tokens_) : token;
    params.now = now_;
    params.lease_expires = now_ + kLease;
    absl::StatusOr<std::optional<Assignment>> claimed = store_->ClaimJob(params);
    EXPECT_TRUE(claimed.ok()) << claimed.status();
    return claimed.ok() ? *claimed : std::nullopt;
  }

  Assignment MustClaim() {
    std::optional<Assignment> a = Claim();
    EXPECT_TRUE(a.has_value());
    return a.value_or(Assignment{});
  }

  absl::StatusOr<JobState> Finish(const Assignment& a, AttemptOutcome outcome,
                                  const std::string& cause = "") {
    return store_->FinishAttempt(a.attempt, outcome, cause, "", now_);
  }

  JobRecord Job(int64_t id) {
    absl::StatusOr<JobRecord> job = store_->GetJob(id);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.value_or(JobRecord{});
  }

  SweepRecord Sweep(int64_t id) {
    absl::StatusOr<SweepRecord> sweep = store_->GetSweep(id);
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    return sweep.value_or(SweepRecord{});
  }

  // Expires every running lease: the clock moves past them.
  int64_t ExpireAll() {
    now_ += kLease + absl::Seconds(1);
    absl::StatusOr<int64_t> n = store_->ExpireLeases(now_);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  }

  std::vector<JobMetricPoint> AllPoints(const MetricQuery& query, size_t chunk = 1000) {
    std::vector<JobMetricPoint> out;
    absl::Status s = store_->QueryMetrics(query, chunk, [&](const auto& points) {
      out.insert(out.end(), points.begin(), points.end());
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // A read-only SQL connection to the same file, as a person would open it.
  std::unique_ptr<sqlite::Database> RawDb() {
    sqlite::DatabaseOptions options;
    options.path = path_;
    options.read_only = true;
    absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(options);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }

  // A sweep of `n` jobs under `scheduler_json` (SchedulerToJson's form).
  int64_t MakeScheduledSweep(int n, const std::string& scheduler_json) {
    SweepRecord sweep;
    sweep.name = "scheduled";
    sweep.max_attempts = 3;
    sweep.created_at = now_;
    sweep.scheduler_json = scheduler_json;
    std::vector<NewJob> jobs;
    for (int i = 0; i < n; ++i) {
      jobs.push_back({i, absl::StrCat("cell", i), Config("transformer", "softmax", i)});
    }
    absl::StatusOr<int64_t> id = store_->CreateSweep(sweep, jobs);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(0);
  }

  // The attempt logs `metric` = value at the end of `epoch` (an epoch line).
  void LogEpoch(const Assignment& a, int epoch, const std::string& metric, double value) {
    MetricBatchWrite batch{a.attempt,
                           {{"epoch", epoch * 10, double(epoch), 1.0},
                            {metric, epoch * 10, value, 1.0}}};
    absl::StatusOr<std::vector<absl::Status>> r = store_->AppendMetrics({batch});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE((*r)[0].ok()) << (*r)[0];
  }

  int64_t Count(const std::string& sql) {
    absl::StatusOr<int64_t> n = RawDb()->QueryInt64(sql);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  }

  testing::TempDir dir_;
  std::string path_ = dir_.File("switchyard.db");
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::unique_ptr<SqliteStore> store_;
  int64_t worker_ = 0;
  int tokens_ = 0;
};

// ---- sweeps and jobs

TEST_F(SqliteStoreTest, CreateSweepMakesOnePendingJobPerCell) {
  const int64_t sweep = MakeSweep(4, /*priority=*/2, /*max_attempts=*/5, "grid");
  SweepRecord record = Sweep(sweep);
  EXPECT_EQ(record.name, "grid");
  EXPECT_EQ(record.priority, 2);
  EXPECT_EQ(record.max_attempts, 5);
  EXPECT_EQ(record.spec_json, "{\"name\":\"grid\"}");
  EXPECT_EQ(record.created_at, now_);
  EXPECT_FALSE(record.finished_at.has_value());
  EXPECT_EQ(record.counts.pending, 4);
  EXPECT_EQ(record.counts.total(), 4);

  absl::StatusOr<std::vector<JobRecord>> jobs = store_->ListJobs(sweep, std::nullopt);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ((*jobs)[i].cell_index, i);
    EXPECT_EQ((*jobs)[i].sweep_id, sweep);
    EXPECT_EQ((*jobs)[i].state, JobState::kPending);
    EXPECT_EQ((*jobs)[i].config_json, Config(i % 2 == 0 ? "transformer" : "lstm",
                                             i % 2 == 0 ? "softmax" : "none", i));
    EXPECT_EQ((*jobs)[i].created_at, now_);
  }
  EXPECT_TRUE(store_->GetSweep(sweep + 100).status().code() == absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ListJobs(sweep + 100, std::nullopt).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetJob(12345).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, ListSweepsNewestFirstWithCounts) {
  const int64_t a = MakeSweep(2, 0, 3, "a");
  const int64_t b = MakeSweep(3, 0, 3, "b");
  MustClaim();  // a's first job
  absl::StatusOr<std::vector<SweepRecord>> sweeps = store_->ListSweeps();
  ASSERT_TRUE(sweeps.ok()) << sweeps.status();
  ASSERT_EQ(sweeps->size(), 2u);
  EXPECT_EQ((*sweeps)[0].id, b);
  EXPECT_EQ((*sweeps)[0].counts.pending, 3);
  EXPECT_EQ((*sweeps)[1].id, a);
  EXPECT_EQ((*sweeps)[1].counts.pending, 1);
  EXPECT_EQ((*sweeps)[1].counts.running, 1);
}

TEST_F(SqliteStoreTest, RepeatedCellKeyIsRefusedAndNothingIsWritten) {
  SweepRecord sweep;
  sweep.name = "dup";
  sweep.max_attempts = 3;
  sweep.created_at = now_;
  absl::StatusOr<int64_t> id =
      store_->CreateSweep(sweep, {{0, "k0", "{}"}, {1, "k1", "{}"}, {2, "k0", "{}"}});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()), ::testing::HasSubstr("'k0'"));
  id = store_->CreateSweep(sweep, {{0, "k0", "{}"}, {0, "k1", "{}"}});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  id = store_->CreateSweep(sweep, {});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  sweep.max_attempts = 0;
  id = store_->CreateSweep(sweep, {{0, "k0", "{}"}});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(Count("SELECT COUNT(*) FROM sweeps"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM jobs"), 0);
  // The same key in two sweeps is fine.
  sweep.max_attempts = 3;
  ASSERT_TRUE(store_->CreateSweep(sweep, {{0, "k0", "{}"}}).ok());
  ASSERT_TRUE(store_->CreateSweep(sweep, {{0, "k0", "{}"}}).ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM jobs"), 2);
}

// ---- workers

TEST_F(SqliteStoreTest, WorkersRoundTrip) {
  absl::StatusOr<WorkerRecord> w = store_->GetWorker(worker_);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->name, "w1");
  EXPECT_EQ(w->hostname, "host-w1");
  ASSERT_EQ(w->devices.size(), 2u);
  EXPECT_EQ(w->devices[0].name, "cuda:0");
  EXPECT_EQ(w->devices[0].kind, "cuda");
  EXPECT_EQ(w->devices[0].memory_bytes, 80ll << 30);
  EXPECT_EQ(w->devices[0].slots, 2);
  EXPECT_EQ(w->devices[0].description, "NVIDIA H100");
  EXPECT_EQ(w->devices[1].name, "cpu");
  EXPECT_FALSE(w->draining);

  ASSERT_TRUE(store_->TouchWorker(worker_, true, 2, now_ + absl::Seconds(5)).ok());
  w = store_->GetWorker(worker_);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->draining);
  EXPECT_EQ(w->slots_busy, 2);
  EXPECT_EQ(w->last_seen, now_ + absl::Seconds(5));
  EXPECT_EQ(w->registered_at, now_);

  const int64_t second = RegisterWorker("w2");
  absl::StatusOr<std::vector<WorkerRecord>> all = store_->ListWorkers();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, worker_);
  EXPECT_EQ((*all)[1].id, second);

  EXPECT_EQ(store_->TouchWorker(999, false, 0, now_).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetWorker(999).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, ListWorkersCountsBusySlotsPerDevice) {
  MakeSweep(3);
  Assignment a = MustClaim();  // Claim() takes the slot on cuda:0
  MustClaim();
  absl::StatusOr<std::vector<WorkerRecord>> all = store_->ListWorkers();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].devices[0].name, "cuda:0");
  EXPECT_EQ((*all)[0].devices[0].slots_busy, 2);
  EXPECT_EQ((*all)[0].devices[1].slots_busy, 0);  // cpu
  ASSERT_TRUE(Finish(a, AttemptOutcome::kSucceeded).ok());
  all = store_->ListWorkers();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[0].devices[0].slots_busy, 1);
}

// ---- quarantine (issue 18)

TEST_F(SqliteStoreTest, EnvironmentErrorsInARowQuarantineTheWorker) {
  const int64_t sweep = MakeSweep(1, 0, /*max_attempts=*/2);
  for (int i = 1; i <= kQuarantineAfter; ++i) {
    Assignment a = MustClaim();
    absl::StatusOr<JobState> state = Finish(
        a, AttemptOutcome::kEnvironmentError,
        "this worker's environment failed (trainer exit code 5): device: cuda:0 requested, but "
        "CUDA is not available\n--- stderr ---\nmore");
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(*state, JobState::kPending) << "free for the job";
  }
  JobRecord job = Job(1);
  EXPECT_EQ(job.failures, 0) << "the retry budget is intact";
  EXPECT_EQ(job.attempts.back().outcome, AttemptOutcome::kEnvironmentError);
  absl::StatusOr<WorkerRecord> w = store_->GetWorker(worker_);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->environment_failures, kQuarantineAfter);
  ASSERT_TRUE(w->quarantined_at.has_value());
  EXPECT_EQ(w->quarantine_cause,
            "this worker's environment failed (trainer exit code 5): device: cuda:0 requested, "
            "but CUDA is not available");

  // No more claims for it, with the cause; another worker claims the job.
  ClaimParams params;
  params.worker_id = worker_;
  params.fencing_token = "t";
  params.now = now_;
  params.lease_expires = now_ + kLease;
  absl::StatusOr<std::optional<Assignment>> refused = store_->ClaimJob(params);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("is quarantined after 3 environment errors in a row (last: "
                                   "this worker's environment failed"));
  const int64_t healthy = RegisterWorker("w2");
  std::optional<Assignment> other = Claim(healthy);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->sweep_id, sweep);

  // An operator lifts it.
  absl::StatusOr<bool> lifted = store_->UnquarantineWorker(worker_);
  ASSERT_TRUE(lifted.ok()) << lifted.status();
  EXPECT_TRUE(*lifted);
  w = store_->GetWorker(worker_);
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->quarantined_at.has_value());
  EXPECT_EQ(w->environment_failures, 0);
  EXPECT_TRUE(store_->ClaimJob(params).ok());
  EXPECT_FALSE(*store_->UnquarantineWorker(worker_)) << "a no-op the second time";
  EXPECT_EQ(store_->UnquarantineWorker(999).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, AnAttemptThatRanResetsTheCountAndAConfigErrorFailsAtOnce) {
  MakeSweep(2, 0, /*max_attempts=*/3);
  Assignment a = MustClaim();
  ASSERT_TRUE(Finish(a, AttemptOutcome::kEnvironmentError, "env").ok());
  a = MustClaim();
  ASSERT_TRUE(Finish(a, AttemptOutcome::kEnvironmentError, "env").ok());
  a = MustClaim();
  absl::StatusOr<JobState> state = Finish(a, AttemptOutcome::kConfigError, "bad job config");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, JobState::kFailed) << "no retry for a config the trainer refused";
  absl::StatusOr<WorkerRecord> w = store_->GetWorker(worker_);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->environment_failures, 0);
  EXPECT_FALSE(w->quarantined_at.has_value());
}

TEST_F(SqliteStoreTest, AFinishThatQuarantinesClaimsNothingButStands) {
  MakeSweep(2);
  for (int i = 1; i < kQuarantineAfter; ++i) {
    ASSERT_TRUE(Finish(MustClaim(), AttemptOutcome::kEnvironmentError, "env").ok());
  }
  Assignment a = MustClaim();
  ClaimParams next;
  next.worker_id = worker_;
  next.fencing_token = "next";
  next.now = now_;
  next.lease_expires = now_ + kLease;
  absl::StatusOr<Store::FinishAndClaimResult> result = store_->FinishAttemptAndClaim(
      a.attempt, AttemptOutcome::kEnvironmentError, "env", "", next);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->state, JobState::kPending);
  EXPECT_FALSE(result->next.has_value());
  EXPECT_EQ(Job(a.job_id).attempts.back().outcome, AttemptOutcome::kEnvironmentError);
}

// ---- claims

TEST_F(SqliteStoreTest, ClaimTakesHighestPriorityThenOldest) {
  const int64_t low = MakeSweep(2, /*priority=*/0, 3, "low");
  const int64_t high = MakeSweep(2, /*priority=*/5, 3, "high");
  const int64_t high_later = MakeSweep(1, /*priority=*/5, 3, "high-later");
  std::vector<std::pair<int64_t, int64_t>> order;  // (sweep, cell index)
  while (std::optional<Assignment> a = Claim()) {
    order.emplace_back(a->sweep_id, Job(a->job_id).cell_index);
  }
  // Jobs were inserted in reverse cell order, so within a sweep the oldest
  // (lowest id) job is the highest cell index.
  EXPECT_THAT(order, ElementsAre(Pair(high, 1), Pair(high, 0), Pair(high_later, 0),
                                 Pair(low, 1), Pair(low, 0)));
}

// A worker is offered only jobs of the programs it runs, still best
// priority first and then oldest, across its programs.
TEST_F(SqliteStoreTest, ClaimOffersOnlyTheWorkersPrograms) {
  SweepRecord sweep;
  sweep.name = "programs";
  sweep.max_attempts = 3;
  sweep.spec_json = "{}";
  sweep.created_at = now_;
  const std::vector<std::string> programs = {"mamba", "switchyard-train", "gru", "mamba"};
  std::vector<NewJob> jobs;
  for (int i = 0; i < 4; ++i) {
    jobs.push_back({i, absl::StrCat("cell", i), Config("lstm", "none", i), programs[i]});
  }
  ASSERT_TRUE(store_->CreateSweep(sweep, jobs).ok());
  sweep.name = "urgent";
  sweep.priority = 9;
  ASSERT_TRUE(store_->CreateSweep(sweep, {{0, "cell0", Config("lstm", "none", 9), "gru"}}).ok());

  // worker_ registered without programs: the built-in trainer alone.
  std::optional<Assignment> builtin = Claim();
  ASSERT_TRUE(builtin.has_value());
  EXPECT_EQ(builtin->program, "switchyard-train");
  EXPECT_EQ(Job(builtin->job_id).cell_index, 1);
  EXPECT_FALSE(Claim().has_value()) << "a job of another program went to a worker without it";

  WorkerRecord own;
  own.name = "own";
  own.programs = {"switchyard-train", "mamba"};
  own.registered_at = own.last_seen = now_;
  absl::StatusOr<int64_t> own_id = store_->RegisterWorker(own);
  ASSERT_TRUE(own_id.ok()) << own_id.status();
  absl::StatusOr<WorkerRecord> stored = store_->GetWorker(*own_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->programs, own.programs);
  std::vector<int64_t> cells;
  while (std::optional<Assignment> a = Claim(*own_id)) {
    EXPECT_EQ(a->program, "mamba");
    cells.push_back(Job(a->job_id).cell_index);
  }
  EXPECT_THAT(cells, ElementsAre(0, 3));

  // The gru jobs wait, the urgent one first, for a worker that has gru.
  own.programs = {"gru"};
  absl::StatusOr<int64_t> gru_id = store_->RegisterWorker(own);
  ASSERT_TRUE(gru_id.ok());
  std::optional<Assignment> first = Claim(*gru_id);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(Job(first->job_id).config_json, Config("lstm", "none", 9));
  std::optional<Assignment> second = Claim(*gru_id);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(Job(second->job_id).cell_index, 2);
}

TEST_F(SqliteStoreTest, ClaimMakesJobRunningWithANewAttempt) {
  const int64_t sweep = MakeSweep(1);
  ASSERT_TRUE(Claim().has_value());
  JobRecord job = Job(1);
  EXPECT_EQ(job.state, JobState::kRunning);
  EXPECT_EQ(job.attempt_count, 1);
  ASSERT_EQ(job.attempts.size(), 1u);
  const AttemptRecord& attempt = job.attempts[0];
  EXPECT_EQ(attempt.number, 1);
  EXPECT_EQ(attempt.worker_id, worker_);
  EXPECT_EQ(attempt.worker_name, "w1");
  EXPECT_EQ(attempt.device, "cuda:0");
  EXPECT_EQ(attempt.outcome, AttemptOutcome::kRunning);
  EXPECT_EQ(attempt.started_at, now_);
  EXPECT_FALSE(attempt.ended_at.has_value());
  EXPECT_EQ(attempt.resumed_from_step, 0);
  EXPECT_EQ(Sweep(sweep).counts.running, 1);

  EXPECT_FALSE(Claim().has_value());  // nothing pending
  ClaimParams params;
  params.worker_id = 4242;
  params.fencing_token = "x";
  params.now = now_;
  params.lease_expires = now_ + kLease;
  EXPECT_EQ(store_->ClaimJob(params).status().code(), absl::StatusCode::kNotFound);
  params.worker_id = worker_;
  params.fencing_token = "";
  EXPECT_EQ(store_->ClaimJob(params).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, ClaimReturnsTheAssignment) {
  const int64_t sweep = MakeSweep(1);
  std::optional<Assignment> a = Claim(0, "secret");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->sweep_id, sweep);
  EXPECT_EQ(a->attempt.fencing_token, "secret");
  EXPECT_EQ(a->attempt_number, 1);
  EXPECT_EQ(a->config_json, Config("transformer", "softmax", 0));
  EXPECT_EQ(a->checkpoint_id, 0);
  EXPECT_EQ(a->checkpoint_step, 0);
  absl::StatusOr<int64_t> job = store_->JobOfRunningAttempt(a->attempt);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(*job, a->job_id);
}

// ---- finishing attempts: the state machine applied through the store

TEST_F(SqliteStoreTest, SucceededIsFinalAndFinishesTheSweep) {
  const int64_t sweep = MakeSweep(2);
  Assignment first = MustClaim();
  Assignment second = MustClaim();
  absl::StatusOr<JobState> state = store_->FinishAttempt(first.attempt, AttemptOutcome::kSucceeded,
                                                         "", "{\"acc\":1}", now_);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, JobState::kSucceeded);
  EXPECT_FALSE(Sweep(sweep).finished_at.has_value());  // one job still running

  now_ += absl::Seconds(30);
  ASSERT_EQ(Finish(second, AttemptOutcome::kSucceeded).value_or(JobState::kPending),
            JobState::kSucceeded);
  SweepRecord record = Sweep(sweep);
  ASSERT_TRUE(record.finished_at.has_value());
  EXPECT_EQ(*record.finished_at, now_);
  EXPECT_EQ(record.counts.succeeded, 2);

  JobRecord job = Job(first.job_id);
  EXPECT_EQ(job.summary_json, "{\"acc\":1}");
  ASSERT_EQ(job.attempts.size(), 1u);
  EXPECT_EQ(job.attempts[0].outcome, AttemptOutcome::kSucceeded);
  EXPECT_TRUE(job.attempts[0].ended_at.has_value());

  // Final: no second finish, no retry, no cancel.
  EXPECT_EQ(Finish(first, AttemptOutcome::kFailed).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Retry(sweep, {}, now_).value_or(-1), 0);
  EXPECT_EQ(store_->Cancel(0, first.job_id, now_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Job(first.job_id).state, JobState::kSucceeded);
  EXPECT_FALSE(Claim().has_value());
}

TEST_F(SqliteStoreTest, FailuresUseTheRetryBudget) {
  const int64_t sweep = MakeSweep(1, 0, /*max_attempts=*/3);
  for (int i = 1; i <= 3; ++i) {
    Assignment a = MustClaim();
    EXPECT_EQ(a.attempt_number, i);
    absl::StatusOr<JobState> state = Finish(a, AttemptOutcome::kFailed, absl::StrCat("oom ", i));
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(*state, i < 3 ? JobState::kPending : JobState::kFailed);
    JobRecord job = Job(a.job_id);
    EXPECT_EQ(job.failures, i);
    EXPECT_EQ(job.last_cause, absl::StrCat("oom ", i));
  }
  EXPECT_FALSE(Claim().has_value());
  SweepRecord record = Sweep(sweep);
  EXPECT_EQ(record.counts.failed, 1);
  EXPECT_TRUE(record.finished_at.has_value());
  EXPECT_EQ(Job(1).attempts.size(), 3u);
}

TEST_F(SqliteStoreTest, LostAndPreemptedDoNotUseTheBudget) {
  MakeSweep(1, 0, /*max_attempts=*/1);
  Assignment a = MustClaim();
  ASSERT_EQ(Finish(a, AttemptOutcome::kPreempted).value_or(JobState::kFailed),
            JobState::kPending);
  a = MustClaim();
  EXPECT_EQ(ExpireAll(), 1);
  JobRecord job = Job(a.job_id);
  EXPECT_EQ(job.state, JobState::kPending);
  EXPECT_EQ(job.failures, 0);
  EXPECT_EQ(job.consecutive_lost, 1);
  a = MustClaim();
  EXPECT_EQ(a.attempt_number, 3);
  // The one failure the budget allows ends it.
  EXPECT_EQ(Finish(a, AttemptOutcome::kFailed).value_or(JobState::kPending), JobState::kFailed);
}

TEST_F(SqliteStoreTest, LostTooOftenInARowMarksTheJobLost) {
  const int64_t sweep = MakeSweep(1);
  for (int i = 1; i <= kMaxConsecutiveLost; ++i) {
    Assignment a = MustClaim();
    ASSERT_EQ(ExpireAll(), 1);
    EXPECT_EQ(Job(a.job_id).state, i < kMaxConsecutiveLost ? JobState::kPending : JobState::kLost);
  }
  EXPECT_FALSE(Claim().has_value());
  EXPECT_EQ(Sweep(sweep).counts.lost, 1);
  EXPECT_TRUE(Sweep(sweep).finished_at.has_value());
}

TEST_F(SqliteStoreTest, LeaseExpiryRequeuesAndResumesFromTheLatestCheckpoint) {
  MakeSweep(1);
  Assignment a = MustClaim();
  ASSERT_TRUE(store_->AddCheckpoint(a.attempt, 200, 10, "bb", "ckpt/200", now_).ok());
  absl::StatusOr<int64_t> ckpt = store_->AddCheckpoint(a.attempt, 300, 10, "cc", "ckpt/300", now_);
  ASSERT_TRUE(ckpt.ok());
  ASSERT_TRUE(store_->AddCheckpoint(a.attempt, 100, 10, "aa", "ckpt/100", now_).ok());

  // Not yet expired: nothing happens.
  EXPECT_EQ(store_->ExpireLeases(now_ + kLease - absl::Seconds(1)).value_or(-1), 0);
  EXPECT_EQ(ExpireAll(), 1);
  JobRecord job = Job(a.job_id);
  EXPECT_EQ(job.state, JobState::kPending);
  ASSERT_EQ(job.attempts.size(), 1u);
  EXPECT_EQ(job.attempts[0].outcome, AttemptOutcome::kLost);
  EXPECT_EQ(job.attempts[0].cause, "lease expired");
  EXPECT_EQ(job.attempts[0].ended_at, now_);
  // The lost attempt is fenced off.
  EXPECT_EQ(Finish(a, AttemptOutcome::kSucceeded).status().code(),
            absl::StatusCode::kFailedPrecondition);

  Assignment b = MustClaim();
  EXPECT_EQ(b.job_id, a.job_id);
  EXPECT_EQ(b.attempt_number, 2);
  EXPECT_EQ(b.checkpoint_id, *ckpt);
  EXPECT_EQ(b.checkpoint_step, 300);
  EXPECT_EQ(Job(b.job_id).attempts[1].resumed_from_step, 300);
}

TEST_F(SqliteStoreTest, RenewLeasesKeepsAttemptsAliveAndGivesOrders) {
  MakeSweep(3);
  Assignment a = MustClaim();
  Assignment b = MustClaim();
  Assignment c = MustClaim();
  const int64_t other = RegisterWorker("w2");
  ASSERT_TRUE(store_->Cancel(0, b.job_id, now_).ok());

  AttemptRef stale = a.attempt;
  stale.fencing_token = "wrong";
  absl::StatusOr<std::vector<Order>> orders = store_->RenewLeases(
      worker_, {a.attempt, b.attempt, stale, AttemptRef{999, "x"}}, now_ + 10 * kLease, now_);
  ASSERT_TRUE(orders.ok()) << orders.status();
  ASSERT_EQ(orders->size(), 3u);
  EXPECT_EQ((*orders)[0].attempt_id, b.attempt.attempt_id);
  EXPECT_EQ((*orders)[0].kind, OrderKind::kCancel);
  EXPECT_EQ((*orders)[1].attempt_id, a.attempt.attempt_id);  // the stale pair
  EXPECT_EQ((*orders)[1].kind, OrderKind::kAbandon);
  EXPECT_EQ((*orders)[2].attempt_id, 999);
  EXPECT_EQ((*orders)[2].kind, OrderKind::kAbandon);

  // Another worker cannot renew (or learn about) this worker's attempt.
  orders = store_->RenewLeases(other, {c.attempt}, now_ + 10 * kLease, now_);
  ASSERT_TRUE(orders.ok());
  ASSERT_EQ(orders->size(), 1u);
  EXPECT_EQ((*orders)[0].kind, OrderKind::kAbandon);
  EXPECT_EQ(store_->RenewLeases(4242, {a.attempt}, now_, now_).status().code(),
            absl::StatusCode::kNotFound);

  // a and b were renewed, c was not.
  EXPECT_EQ(ExpireAll(), 1);
  EXPECT_EQ(Job(c.job_id).state, JobState::kPending);
  EXPECT_EQ(Job(a.job_id).state, JobState::kRunning);
  EXPECT_EQ(Job(b.job_id).state, JobState::kRunning);

  // A finished attempt gets kAbandon.
  ASSERT_TRUE(Finish(a, AttemptOutcome::kSucceeded).ok());
  orders = store_->RenewLeases(worker_, {a.attempt}, now_ + kLease, now_);
  ASSERT_TRUE(orders.ok());
  ASSERT_EQ(orders->size(), 1u);
  EXPECT_EQ((*orders)[0].kind, OrderKind::kAbandon);
}

// ---- cancel and retry

TEST_F(SqliteStoreTest, CancelSweepCancelsPendingAndOrdersRunning) {
  const int64_t sweep = MakeSweep(3);
  Assignment running = MustClaim();
  absl::StatusOr<CancelResult> result = store_->Cancel(sweep, 0, now_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->cancelled_pending, 2);
  EXPECT_EQ(result->cancel_ordered, 1);
  SweepRecord record = Sweep(sweep);
  EXPECT_EQ(record.counts.cancelled, 2);
  EXPECT_EQ(record.counts.running, 1);
  EXPECT_FALSE(record.finished_at.has_value());
  EXPECT_TRUE(Job(running.job_id).cancel_requested);
  EXPECT_FALSE(Claim().has_value());

  // A failure of a cancel-requested job ends it cancelled (the policy), and
  // that last job's end finishes the sweep in the same transaction.
  now_ += absl::Seconds(3);
  EXPECT_EQ(Finish(running, AttemptOutcome::kFailed).value_or(JobState::kPending),
            JobState::kCancelled);
  record = Sweep(sweep);
  EXPECT_EQ(record.counts.cancelled, 3);
  ASSERT_TRUE(record.finished_at.has_value());
  EXPECT_EQ(*record.finished_at, now_);

  // Again: nothing left to do.
  result = store_->Cancel(sweep, 0, now_);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->cancelled_pending, 0);
  EXPECT_EQ(result->cancel_ordered, 0);
}

TEST_F(SqliteStoreTest, CancelOneJob) {
  const int64_t sweep = MakeSweep(2);
  Assignment running = MustClaim();
  absl::StatusOr<CancelResult> result = store_->Cancel(0, running.job_id, now_);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->cancel_ordered, 1);
  ASSERT_EQ(Finish(running, AttemptOutcome::kCancelled).value_or(JobState::kPending),
            JobState::kCancelled);
  EXPECT_FALSE(Sweep(sweep).finished_at.has_value());

  const int64_t pending_job = running.job_id + 1;
  result = store_->Cancel(0, pending_job, now_);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->cancelled_pending, 1);
  EXPECT_EQ(Job(pending_job).state, JobState::kCancelled);
  EXPECT_TRUE(Sweep(sweep).finished_at.has_value());
  // Cancelling a cancelled job is a no-op.
  result = store_->Cancel(0, pending_job, now_);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->cancelled_pending, 0);

  EXPECT_EQ(store_->Cancel(sweep, pending_job, now_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Cancel(0, 0, now_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Cancel(0, 999, now_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Cancel(999, 0, now_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, RetryBringsFailedAndLostJobsBack) {
  const int64_t sweep = MakeSweep(3, 0, /*max_attempts=*/1);
  Assignment failing = MustClaim();
  ASSERT_EQ(Finish(failing, AttemptOutcome::kFailed).value_or(JobState::kPending),
            JobState::kFailed);
  // Lose the second job kMaxConsecutiveLost times.
  int64_t lost_job = 0;
  for (int i = 0; i < kMaxConsecutiveLost; ++i) {
    Assignment a = MustClaim();
    lost_job = a.job_id;
    ASSERT_EQ(ExpireAll(), 1);
  }
  ASSERT_EQ(Job(lost_job).state, JobState::kLost);
  Assignment ok = MustClaim();
  ASSERT_TRUE(Finish(ok, AttemptOutcome::kSucceeded).ok());
  ASSERT_TRUE(Sweep(sweep).finished_at.has_value());

  // Only the lost one first.
  EXPECT_EQ(store_->Retry(sweep, {JobState::kLost}, now_).value_or(-1), 1);
  JobRecord job = Job(lost_job);
  EXPECT_EQ(job.state, JobState::kPending);
  EXPECT_EQ(job.consecutive_lost, 0);
  EXPECT_FALSE(Sweep(sweep).finished_at.has_value());
  EXPECT_EQ(Job(failing.job_id).state, JobState::kFailed);
  // Then both (the lost one is pending now, so only the failed one moves).
  EXPECT_EQ(store_->Retry(sweep, {}, now_).value_or(-1), 1);
  job = Job(failing.job_id);
  EXPECT_EQ(job.state, JobState::kPending);
  EXPECT_EQ(job.failures, 0);

  // A fresh budget and attempt numbers that keep counting.
  Assignment again = MustClaim();
  EXPECT_EQ(again.job_id, failing.job_id);
  EXPECT_EQ(again.attempt_number, 2);

  EXPECT_EQ(store_->Retry(sweep, {JobState::kSucceeded}, now_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Retry(999, {}, now_).status().code(), absl::StatusCode::kNotFound);
}

// ---- fencing

TEST_F(SqliteStoreTest, StaleOrFinishedAttemptsAreRefused) {
  MakeSweep(2);
  Assignment a = MustClaim();
  Assignment other_job = MustClaim();
  absl::StatusOr<int64_t> ckpt = store_->AddCheckpoint(a.attempt, 10, 1, "x", "c/10", now_);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  absl::StatusOr<int64_t> other_ckpt =
      store_->AddCheckpoint(other_job.attempt, 10, 1, "y", "c/other", now_);
  ASSERT_TRUE(other_ckpt.ok());

  AttemptRef wrong = a.attempt;
  wrong.fencing_token = "not-the-token";
  const std::vector<MetricPoint> points = {{"loss", 1, 0.5, 1.0}};
  auto expect_refused = [&](const AttemptRef& ref, absl::StatusCode code) {
    EXPECT_EQ(store_->FinishAttempt(ref, AttemptOutcome::kSucceeded, "", "", now_).status().code(),
              code);
    absl::StatusOr<std::vector<absl::Status>> appended = store_->AppendMetrics({{ref, points}});
    ASSERT_TRUE(appended.ok()) << appended.status();
    ASSERT_EQ(appended->size(), 1u);
    EXPECT_EQ((*appended)[0].code(), code);
    EXPECT_EQ(store_->AddCheckpoint(ref, 20, 1, "z", "c/20", now_).status().code(), code);
    EXPECT_EQ(store_->GetCheckpointFor(ref, *ckpt).status().code(), code);
    EXPECT_EQ(store_->JobOfRunningAttempt(ref).status().code(), code);
  };
  expect_refused(wrong, absl::StatusCode::kFailedPrecondition);
  expect_refused(AttemptRef{4242, "x"}, absl::StatusCode::kNotFound);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM checkpoints"), 2);

  // The right pair works; another job's checkpoint is not its to read.
  absl::StatusOr<CheckpointRecord> record = store_->GetCheckpointFor(a.attempt, *ckpt);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->job_id, a.job_id);
  EXPECT_EQ(record->attempt_id, a.attempt.attempt_id);
  EXPECT_EQ(record->step, 10);
  EXPECT_EQ(record->path, "c/10");
  EXPECT_EQ(record->created_at, now_);
  EXPECT_EQ(store_->GetCheckpointFor(a.attempt, *other_ckpt).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->GetCheckpointFor(a.attempt, 999).status().code(),
            absl::StatusCode::kNotFound);

  // Once finished, the right token is stale too.
  ASSERT_TRUE(Finish(a, AttemptOutcome::kPreempted).ok());
  expect_refused(a.attempt, absl::StatusCode::kFailedPrecondition);
  // And the next attempt of the same job does not accept the old token.
  Assignment b = MustClaim();
  ASSERT_EQ(b.job_id, a.job_id);
  expect_refused(AttemptRef{b.attempt.attempt_id, a.attempt.fencing_token},
                 absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics"), 0);
  EXPECT_EQ(Job(a.job_id).state, JobState::kRunning);
  EXPECT_EQ(Finish(b, AttemptOutcome::kRunning).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- metrics

TEST_F(SqliteStoreTest, ReplayedBatchChangesNothing) {
  MakeSweep(1);
  Assignment a = MustClaim();
  std::vector<MetricPoint> points;
  for (int step = 0; step < 50; ++step) {
    points.push_back({"train/loss", step, 1.0 / (step + 1), 100.0 + step});
    points.push_back({"val/acc", step, step / 50.0, 100.0 + step});
  }
  MetricBatchWrite batch{a.attempt, points};
  absl::StatusOr<std::vector<absl::Status>> r = store_->AppendMetrics({batch});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE((*r)[0].ok()) << (*r)[0];
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics"), 100);

  // The replay, with different values: ignored, the first value stays.
  for (MetricPoint& p : batch.points) p.value = -1;
  r = store_->AppendMetrics({batch, batch});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)[0].ok());
  EXPECT_TRUE((*r)[1].ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics"), 100);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metric_names"), 2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics WHERE value = -1"), 0);
  std::vector<JobMetricPoint> stored = AllPoints({.sweep_id = 1});
  ASSERT_EQ(stored.size(), 100u);
  EXPECT_EQ(stored[0].point.name, "train/loss");
  EXPECT_EQ(stored[0].point.value, 1.0);
  EXPECT_EQ(stored[0].point.wall_time, 100.0);
  // Without wall times (the views): the same points, wall_time 0.
  std::vector<JobMetricPoint> values = AllPoints({.sweep_id = 1, .wall_time = false}, 7);
  ASSERT_EQ(values.size(), stored.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(values[i].job_id, stored[i].job_id);
    EXPECT_EQ(values[i].point.name, stored[i].point.name);
    EXPECT_EQ(values[i].point.step, stored[i].point.step);
    EXPECT_EQ(values[i].point.value, stored[i].point.value);
    EXPECT_EQ(values[i].point.wall_time, 0.0);
  }
  JobRecord job = Job(a.job_id);
  EXPECT_THAT(job.final_metrics,
              UnorderedElementsAre(Pair("train/loss", 1.0 / 50), Pair("val/acc", 49 / 50.0)));
}

TEST_F(SqliteStoreTest, FinalMetricsAreTheValuesAtTheHighestStep) {
  const int64_t sweep = MakeSweep(2);
  Assignment a = MustClaim();
  Assignment b = MustClaim();
  // Out of order across and within batches.
  ASSERT_TRUE(store_->AppendMetrics({{a.attempt, {{"loss", 20, 0.2, 1}, {"loss", 30, 0.3, 1},
                                                  {"loss", 10, 0.1, 1}}}})
                  .ok());
  ASSERT_TRUE(store_->AppendMetrics({{a.attempt, {{"loss", 25, 0.25, 1}, {"acc", 5, 0.9, 1}}},
                                     {b.attempt, {{"loss", 7, 0.7, 1}}}})
                  .ok());
  absl::StatusOr<std::vector<JobRecord>> jobs = store_->ListJobs(sweep, std::nullopt);
  ASSERT_TRUE(jobs.ok());
  std::map<int64_t, std::map<std::string, double>> finals;
  for (const JobRecord& j : *jobs) {
    EXPECT_TRUE(j.attempts.empty());
    finals[j.id] = j.final_metrics;
  }
  EXPECT_THAT(finals[a.job_id], UnorderedElementsAre(Pair("loss", 0.3), Pair("acc", 0.9)));
  EXPECT_THAT(finals[b.job_id], UnorderedElementsAre(Pair("loss", 0.7)));
  jobs = store_->ListJobs(sweep, JobState::kPending);
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->empty());
  jobs = store_->ListJobs(sweep, JobState::kRunning);
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->size(), 2u);
}

TEST_F(SqliteStoreTest, BatchesAreJudgedOneByOne) {
  MakeSweep(1);
  Assignment a = MustClaim();
  AttemptRef stale{a.attempt.attempt_id, "nope"};
  absl::StatusOr<std::vector<absl::Status>> r = store_->AppendMetrics(
      {{a.attempt, {{"loss", 1, 1, 1}}},
       {stale, {{"loss", 2, 2, 2}}},
       {a.attempt, {{"", 3, 3, 3}}},
       {a.attempt, {{"loss", -1, 3, 3}}},
       {a.attempt, {{"loss", 4, 4, 4}}}});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_TRUE((*r)[0].ok());
  EXPECT_EQ((*r)[1].code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*r)[2].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*r)[3].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*r)[4].ok());
  std::vector<JobMetricPoint> points = AllPoints({.sweep_id = 1});
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].point.step, 1);
  EXPECT_EQ(points[1].point.step, 4);
}

TEST_F(SqliteStoreTest, NonFiniteValues) {
  MakeSweep(1);
  Assignment a = MustClaim();
  const double inf = std::numeric_limits<double>::infinity();
  ASSERT_TRUE(store_->AppendMetrics({{a.attempt,
                                      {{"x", 1, std::nan(""), 1},
                                       {"x", 2, inf, 1},
                                       {"x", 3, -inf, 1}}}})
                  .ok());
  std::vector<JobMetricPoint> points = AllPoints({.sweep_id = 1});
  ASSERT_EQ(points.size(), 3u);
  EXPECT_TRUE(std::isnan(points[0].point.value));  // stored as NULL
  EXPECT_EQ(points[1].point.value, inf);
  EXPECT_EQ(points[2].point.value, -inf);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics WHERE value IS NULL"), 1);
  EXPECT_EQ(Job(a.job_id).final_metrics.at("x"), -inf);
}

TEST_F(SqliteStoreTest, QueryMetricsOrderFiltersAndChunks) {
  const int64_t sweep = MakeSweep(3);
  Assignment a = MustClaim();
  Assignment b = MustClaim();
  Assignment c = MustClaim();
  // Names arrive in an order unlike their sort order; b's points first.
  for (const Assignment* x : {&b, &a, &c}) {
    std::vector<MetricPoint> points;
    for (int step = 9; step >= 0; --step) {
      points.push_back({"zeta", step * 10, double(step), 1});
      points.push_back({"alpha", step * 10, double(-step), 1});
    }
    ASSERT_TRUE(store_->AppendMetrics({{x->attempt, points}}).ok());
  }
  std::vector<JobMetricPoint> all = AllPoints({.sweep_id = sweep});
  ASSERT_EQ(all.size(), 60u);
  for (size_t i = 1; i < all.size(); ++i) {
    const auto key = [](const JobMetricPoint& p) {
      return std::tie(p.job_id, p.point.name, p.point.step);
    };
    EXPECT_LT(key(all[i - 1]), key(all[i])) << i;
  }
  EXPECT_EQ(all.front().job_id, a.job_id);
  EXPECT_EQ(all.front().point.name, "alpha");
  EXPECT_EQ(all.front().point.step, 0);
  EXPECT_EQ(all.back().job_id, c.job_id);
  EXPECT_EQ(all.back().point.name, "zeta");
  EXPECT_EQ(all.back().point.step, 90);

  // Any chunk size gives the same stream, in chunks no bigger than asked.
  for (size_t chunk : {1u, 3u, 7u, 10u, 20u, 59u, 60u, 61u}) {
    std::vector<JobMetricPoint> got;
    size_t calls = 0;
    ASSERT_TRUE(store_
                    ->QueryMetrics({.sweep_id = sweep}, chunk,
                                   [&](const std::vector<JobMetricPoint>& points) {
                                     EXPECT_LE(points.size(), chunk);
                                     EXPECT_FALSE(points.empty());
                                     ++calls;
                                     got.insert(got.end(), points.begin(), points.end());
                                     return true;
                                   })
                    .ok());
    ASSERT_EQ(got.size(), all.size()) << chunk;
    EXPECT_EQ(calls, (all.size() + chunk - 1) / chunk) << chunk;
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(got[i].job_id, all[i].job_id);
      EXPECT_EQ(got[i].point.name, all[i].point.name);
      EXPECT_EQ(got[i].point.step, all[i].point.step);
    }
  }
  // The sink stops the stream.
  size_t calls = 0;
  ASSERT_TRUE(store_->QueryMetrics({.sweep_id = sweep}, 5, [&](const auto&) {
    ++calls;
    return false;
  }).ok());
  EXPECT_EQ(calls, 1u);

  // Filters.
  std::vector<JobMetricPoint> some =
      AllPoints({.sweep_id = sweep, .job_ids = {c.job_id, a.job_id}, .names = {"zeta"}}, 4);
  ASSERT_EQ(some.size(), 20u);
  EXPECT_EQ(some[0].job_id, a.job_id);
  EXPECT_EQ(some[10].job_id, c.job_id);
  for (const JobMetricPoint& p : some) EXPECT_EQ(p.point.name, "zeta");
  EXPECT_EQ(some[3].point.value, 3);
  EXPECT_TRUE(AllPoints({.sweep_id = sweep, .names = {"nothing"}}).empty());
  EXPECT_EQ(AllPoints({.sweep_id = 0, .job_ids = {b.job_id}}).size(), 20u);

  auto code = [&](const MetricQuery& q, size_t chunk) {
    return store_->QueryMetrics(q, chunk, [](const auto&) { return true; }).code();
  };
  EXPECT_EQ(code({.sweep_id = sweep}, 0), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.sweep_id = 0}, 10), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.sweep_id = 999}, 10), absl::StatusCode::kNotFound);
  EXPECT_EQ(code({.sweep_id = sweep, .job_ids = {999}}, 10), absl::StatusCode::kNotFound);
  const int64_t other = MakeSweep(1, 0, 3, "other");
  EXPECT_EQ(code({.sweep_id = other, .job_ids = {a.job_id}}, 10), absl::StatusCode::kNotFound);
}

// The cursor of the views (issue 15): after_step selects the points above
// it, for QueryMetrics and CountMetrics alike; the counts list every series
// in the stream's order and skip NULL (NaN) values.
TEST_F(SqliteStoreTest, AfterStepAndCountsFollowTheStream) {
  const int64_t sweep = MakeSweep(2);
  Assignment a = MustClaim();
  Assignment b = MustClaim();
  std::vector<MetricPoint> points;
  for (int step = 0; step < 10; ++step) {
    points.push_back({"zeta", step, double(step), 1});
    if (step % 2 == 0) points.push_back({"alpha", step, -double(step), 1});
  }
  points.push_back({"alpha", 11, std::numeric_limits<double>::quiet_NaN(), 1});
  ASSERT_TRUE(store_->AppendMetrics({{a.attempt, points}, {b.attempt, {{"zeta", 3, 3, 1}}}}).ok());

  std::vector<JobMetricPoint> after = AllPoints({.sweep_id = sweep, .after_step = 6}, 2);
  std::vector<std::tuple<int64_t, std::string, int64_t>> keys;
  for (const JobMetricPoint& p : after) keys.emplace_back(p.job_id, p.point.name, p.point.step);
  using Key = std::tuple<int64_t, std::string, int64_t>;
  EXPECT_THAT(keys, ElementsAre(Key{a.job_id, "alpha", 8}, Key{a.job_id, "alpha", 11},
                                Key{a.job_id, "zeta", 7}, Key{a.job_id, "zeta", 8},
                                Key{a.job_id, "zeta", 9}));
  EXPECT_EQ(AllPoints({.sweep_id = sweep, .after_step = -1}).size(), 17u);
  EXPECT_EQ(AllPoints({.sweep_id = sweep, .after_step = -100}).size(), 17u);
  EXPECT_TRUE(AllPoints({.sweep_id = sweep, .after_step = 11}).empty());

  absl::StatusOr<std::vector<SeriesCount>> counts = store_->CountMetrics({.sweep_id = sweep});
  ASSERT_TRUE(counts.ok()) << counts.status();
  ASSERT_EQ(counts->size(), 3u);
  EXPECT_EQ((*counts)[0].job_id, a.job_id);
  EXPECT_EQ((*counts)[0].name, "alpha");
  EXPECT_EQ((*counts)[0].points, 5);  // the NULL at step 11 is not counted
  EXPECT_EQ((*counts)[1].name, "zeta");
  EXPECT_EQ((*counts)[1].points, 10);
  EXPECT_EQ((*counts)[2].job_id, b.job_id);
  EXPECT_EQ((*counts)[2].points, 1);

  counts = store_->CountMetrics({.sweep_id = sweep, .names = {"zeta"}, .after_step = 6});
  ASSERT_TRUE(counts.ok()) << counts.status();
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ((*counts)[0].points, 3);
  EXPECT_EQ((*counts)[1].job_id, b.job_id);
  EXPECT_EQ((*counts)[1].points, 0);  // listed, with nothing in range

  EXPECT_EQ(store_->CountMetrics({.sweep_id = 999}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->CountMetrics({.sweep_id = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const int64_t other = MakeSweep(1, 0, 3, "other");
  EXPECT_EQ(store_->CountMetrics({.sweep_id = other, .job_ids = {a.job_id}}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, OwnerOfAttemptIsKnownInEveryState) {
  const int64_t sweep = MakeSweep(1);
  Assignment a = MustClaim();
  absl::StatusOr<AttemptOwner> owner = store_->OwnerOfAttempt(a.attempt.attempt_id);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_EQ(owner->job_id, a.job_id);
  EXPECT_EQ(owner->sweep_id, sweep);
  ASSERT_TRUE(Finish(a, AttemptOutcome::kSucceeded).ok());
  owner = store_->OwnerOfAttempt(a.attempt.attempt_id);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_EQ(owner->job_id, a.job_id);
  EXPECT_EQ(store_->OwnerOfAttempt(999).status().code(), absl::StatusCode::kNotFound);
}

// ---- checkpoints

TEST_F(SqliteStoreTest, ListCheckpointsNewestFirst) {
  MakeSweep(2);
  Assignment a = MustClaim();
  Assignment b = MustClaim();
  for (int step : {300, 100, 200}) {
    ASSERT_TRUE(store_
                    ->AddCheckpoint(a.attempt, step, step * 10, absl::StrCat("sha", step),
                                    absl::StrCat("c/", step), now_ + absl::Seconds(step))
                    .ok());
  }
  ASSERT_TRUE(store_->AddCheckpoint(b.attempt, 999, 1, "other", "c/other", now_).ok());
  absl::StatusOr<std::vector<CheckpointRecord>> list = store_->ListCheckpoints(a.job_id);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].step, 300);
  EXPECT_EQ((*list)[1].step, 200);
  EXPECT_EQ((*list)[2].step, 100);
  EXPECT_EQ((*list)[0].job_id, a.job_id);
  EXPECT_EQ((*list)[0].attempt_id, a.attempt.attempt_id);
  EXPECT_EQ((*list)[0].size_bytes, 3000);
  EXPECT_EQ((*list)[0].sha256, "sha300");
  EXPECT_EQ((*list)[0].path, "c/300");
  EXPECT_EQ((*list)[0].created_at, now_ + absl::Seconds(300));

  // A job with none: empty; an unknown job: NOT_FOUND.
  const int64_t sweep = MakeSweep(1, 0, 3, "empty");
  absl::StatusOr<std::vector<JobRecord>> jobs = store_->ListJobs(sweep, std::nullopt);
  ASSERT_TRUE(jobs.ok());
  list = store_->ListCheckpoints(jobs->front().id);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->empty());
  EXPECT_EQ(store_->ListCheckpoints(999).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, PruneKeepsTheNewest) {
  MakeSweep(1);
  Assignment a = MustClaim();
  for (int step : {300, 100, 200, 400}) {
    ASSERT_TRUE(
        store_->AddCheckpoint(a.attempt, step, 1, "s", absl::StrCat("c/", step), now_).ok());
  }
  absl::StatusOr<std::vector<std::string>> gone = store_->PruneCheckpoints(a.job_id, 2);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, ElementsAre("c/100", "c/200"));
  gone = store_->PruneCheckpoints(a.job_id, 2);
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->empty());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM checkpoints"), 2);
  EXPECT_EQ(store_->PruneCheckpoints(a.job_id, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PruneCheckpoints(999, 1).status().code(), absl::StatusCode::kNotFound);
  gone = store_->PruneCheckpoints(a.job_id, 0);
  ASSERT_TRUE(gone.ok());
  EXPECT_THAT(*gone, ElementsAre("c/300", "c/400"));
}

// ---- concurrency

TEST_F(SqliteStoreTest, ConcurrentClaimersNeverShareAJob) {
  constexpr int kJobs = 400;
  constexpr int kThreads = 16;
  MakeSweep(kJobs / 2, 1, 3, "first");
  MakeSweep(kJobs / 2, 0, 3, "second");
  std::vector<std::vector<int64_t>> claimed(kThreads);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        ClaimParams params;
        params.worker_id = worker_;
        params.fencing_token = absl::StrCat("t", t, "-", i);
        params.now = now_;
        params.lease_expires = now_ + kLease;
        absl::StatusOr<std::optional<Assignment>> a = store_->ClaimJob(params);
        if (!a.ok()) {
          ++errors;
          return;
        }
        if (!a->has_value()) return;
        claimed[t].push_back((*a)->job_id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  std::set<int64_t> unique;
  size_t total = 0;
  for (const auto& ids : claimed) {
    total += ids.size();
    unique.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(total, static_cast<size_t>(kJobs));
  EXPECT_EQ(unique.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM attempts"), kJobs);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM jobs WHERE state = 2 AND attempt_count = 1"), kJobs);
  // Group commit did group: fewer transactions than claims.
  EXPECT_LT(store_->WriteGroupCount(), kJobs + kThreads + 3);
  StoreStats stats = store_->Stats();
  EXPECT_EQ(stats.commits, store_->WriteGroupCount());
  ASSERT_EQ(stats.commit_bucket_bounds.size(), stats.commit_bucket_counts.size());
  EXPECT_LE(stats.commit_bucket_counts.back(), stats.commits);
}

// ---- a full disk

TEST_F(SqliteStoreTest, FullDiskIsUnavailableAndChangesNothing) {
  store_.reset();
  store_ = OpenStore(/*max_page_count=*/120);
  ASSERT_NE(store_, nullptr);
  const int64_t sweep = MakeSweep(2);
  Assignment a = MustClaim();
  ASSERT_TRUE(store_->AppendMetrics({{a.attempt, {{"loss", 0, 1, 1}}}}).ok());

  std::vector<MetricPoint> many;
  for (int step = 1; step <= 100000; ++step) many.push_back({"loss", step, 0.5, 1});
  absl::StatusOr<std::vector<absl::Status>> r = store_->AppendMetrics({{a.attempt, many}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics"), 1);
  EXPECT_EQ(Job(a.job_id).final_metrics.at("loss"), 1);
  // The store still works for what fits.
  ASSERT_TRUE(Finish(a, AttemptOutcome::kSucceeded).ok());
  EXPECT_EQ(Sweep(sweep).counts.succeeded, 1);
}

// ---- the views people query (docs/results-schema.md)

TEST_F(SqliteStoreTest, ViewsReturnWhatTheDocSays) {
  const int64_t sweep = MakeSweep(3, 0, 3, "views");
  Assignment a = MustClaim();  // cell 2: transformer, softmax, seed 2
  Assignment b = MustClaim();  // cell 1: lstm, none, seed 1
  ASSERT_TRUE(store_->AppendMetrics({{a.attempt, {{"acc", 1, 0.5, 10}, {"acc", 2, 0.75, 11},
                                                  {"loss", 2, 0.1, 11}}},
                                     {b.attempt, {{"acc", 1, 0.25, 12}}}})
                  .ok());
  ASSERT_TRUE(Finish(a, AttemptOutcome::kSucceeded).ok());
  std::unique_ptr<sqlite::Database> db = RawDb();
  ASSERT_NE(db, nullptr);

  {
    absl::StatusOr<sqlite::ScopedStatement> stmt = db->Cached(
        "SELECT job_id, sweep_id, state, model, attention, tasks, seed, name, step, value "
        "FROM job_final_metrics ORDER BY job_id, name");
    ASSERT_TRUE(stmt.ok()) << stmt.status();
    std::vector<std::string> rows;
    while ((*stmt)->Step().value_or(false)) {
      rows.push_back(absl::StrCat((*stmt)->ColumnInt64(0), " ", (*stmt)->ColumnInt64(1), " ",
                                  (*stmt)->ColumnText(2), " ", (*stmt)->ColumnText(3), " ",
                                  (*stmt)->ColumnText(4), " ", (*stmt)->ColumnText(5), " ",
                                  (*stmt)->ColumnInt64(6), " ", (*stmt)->ColumnText(7), " ",
                                  (*stmt)->ColumnInt64(8), " ", (*stmt)->ColumnDouble(9)));
    }
    const std::string s = absl::StrCat(sweep);
    EXPECT_THAT(rows, ElementsAre(absl::StrCat(a.job_id, " ", s,
                                               " succeeded transformer softmax IARC 2 acc 2 0.75"),
                                  absl::StrCat(a.job_id, " ", s,
                                               " succeeded transformer softmax IARC 2 loss 2 0.1"),
                                  absl::StrCat(b.job_id, " ", s,
                                               " running lstm none IARC 1 acc 1 0.25")));
  }
  {
    absl::StatusOr<sqlite::ScopedStatement> stmt = db->Cached(
        "SELECT job_id, model, attention, tasks, seed, name, step, value, wall_time "
        "FROM job_curves WHERE name = 'acc' ORDER BY job_id, name, step");
    ASSERT_TRUE(stmt.ok()) << stmt.status();
    std::vector<std::string> rows;
    while ((*stmt)->Step().value_or(false)) {
      rows.push_back(absl::StrCat((*stmt)->ColumnInt64(0), " ", (*stmt)->ColumnText(1), " ",
                                  (*stmt)->ColumnText(2), " ", (*stmt)->ColumnText(3), " ",
                                  (*stmt)->ColumnInt64(4), " ", (*stmt)->ColumnText(5), " ",
                                  (*stmt)->ColumnInt64(6), " ", (*stmt)->ColumnDouble(7), " ",
                                  (*stmt)->ColumnDouble(8)));
    }
    EXPECT_THAT(rows,
                ElementsAre(absl::StrCat(a.job_id, " transformer softmax IARC 2 acc 1 0.5 10"),
                            absl::StrCat(a.job_id, " transformer softmax IARC 2 acc 2 0.75 11"),
                            absl::StrCat(b.job_id, " lstm none IARC 1 acc 1 0.25 12")));
  }
  {
    absl::StatusOr<sqlite::ScopedStatement> stmt = db->Cached(
        "SELECT sweep_id, name, total, pending, running, succeeded, failed, lost, cancelled, "
        "finished_at IS NULL FROM sweep_progress ORDER BY sweep_id");
    ASSERT_TRUE(stmt.ok()) << stmt.status();
    ASSERT_TRUE((*stmt)->Step().value_or(false));
    EXPECT_EQ((*stmt)->ColumnInt64(0), sweep);
    EXPECT_EQ((*stmt)->ColumnText(1), "views");
    std::vector<int64_t> counts;
    for (int c = 2; c <= 9; ++c) counts.push_back((*stmt)->ColumnInt64(c));
    EXPECT_THAT(counts, ElementsAre(3, 1, 1, 1, 0, 0, 0, 1));
    EXPECT_FALSE((*stmt)->Step().value_or(true));
  }
  {
    absl::StatusOr<sqlite::ScopedStatement> stmt = db->Cached(
        "SELECT job_id, sweep, cell_index, state, model, seed, attempts FROM job_overview "
        "ORDER BY cell_index");
    ASSERT_TRUE(stmt.ok()) << stmt.status();
    std::vector<std::string> rows;
    while ((*stmt)->Step().value_or(false)) {
      rows.push_back(absl::StrCat((*stmt)->ColumnText(1), " ", (*stmt)->ColumnInt64(2), " ",
                                  (*stmt)->ColumnText(3), " ", (*stmt)->ColumnText(4), " ",
                                  (*stmt)->ColumnInt64(5), " ", (*stmt)->ColumnInt64(6)));
    }
    EXPECT_THAT(rows, ElementsAre("views 0 pending transformer 0 0", "views 1 running lstm 1 1",
                                  "views 2 succeeded transformer 2 1"));
  }
}


// ------------------------------------------------------ early stopping ---

constexpr char kAsha9[] =
    R"({"kind":"asha","metric":"accuracy","mode":"max","min_epochs":1,"max_epochs":9,"reduction":3})";

TEST_F(SqliteStoreTest, AshaStartsTrialsAtRungZeroPausesThemAndPromotesTheTopThird) {
  const int64_t sweep = MakeScheduledSweep(4, kAsha9);
  // Held trials are started by the scheduler, lowest id first, at rung 0.
  std::vector<Assignment> started;
  for (int i = 0; i < 3; ++i) {
    Assignment a = MustClaim();
    EXPECT_EQ(a.epoch_budget, 1);
    started.push_back(a);
  }
  EXPECT_EQ(started[0].job_id + 1, started[1].job_id);
  const double values[] = {0.4, 0.9, 0.6};
  for (int i = 0; i < 3; ++i) {
    LogEpoch(started[i], 1, "accuracy", values[i]);
    absl::StatusOr<JobState> state = Finish(started[i], AttemptOutcome::kSucceeded);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(*state, JobState::kPaused);
  }
  EXPECT_EQ(Sweep(sweep).counts.paused, 3);
  // Three jobs finished rung 0: the best (0.9) is promoted before the fourth
  // trial starts, and trains to rung 1's budget from its checkpoint.
  Assignment promoted = MustClaim();
  EXPECT_EQ(promoted.job_id, started[1].job_id);
  EXPECT_EQ(promoted.epoch_budget, 3);
  JobRecord job = Job(promoted.job_id);
  ASSERT_EQ(job.decisions.size(), 3u);
  EXPECT_EQ(job.decisions[0].kind, "start");
  EXPECT_EQ(job.decisions[1].kind, "pause");
  EXPECT_EQ(job.decisions[2].kind, "promote");
  EXPECT_EQ(job.decisions[2].reason,
            "promoted from rung 0 (epoch 1) to rung 1 (epoch 3): accuracy 0.9, rank 1 of 3 jobs "
            "seen, within the rung's top third (1)");
  EXPECT_NE(job.decisions[2].inputs_json.find("0.9"), std::string::npos);
  Assignment fourth = MustClaim();
  EXPECT_EQ(fourth.epoch_budget, 1);
  EXPECT_FALSE(Claim().has_value());  // nothing promotable, nothing left to start
  std::vector<RungRecord> rungs = Sweep(sweep).rungs;
  ASSERT_EQ(rungs.size(), 3u);
  EXPECT_EQ(rungs[0].reached, 3);
  EXPECT_EQ(rungs[0].promoted, 1);
  EXPECT_EQ(rungs[0].paused, 2);
  EXPECT_EQ(rungs[0].promoted_jobs, std::vector<int64_t>{started[1].job_id});
}

TEST_F(SqliteStoreTest, AshaEndsTheSweepByStoppingThePausedJobsWithTheirNumbers) {
  const int64_t sweep = MakeScheduledSweep(3, kAsha9);
  std::vector<Assignment> started = {MustClaim(), MustClaim(), MustClaim()};
  // One of them fails: it never ran a rung and is not waited for.
  ASSERT_TRUE(Finish(started[2], AttemptOutcome::kConfigError).ok());
  LogEpoch(started[0], 1, "accuracy", 0.5);
  ASSERT_TRUE(Finish(started[0], AttemptOutcome::kSucceeded).ok());
  EXPECT_FALSE(Sweep(sweep).finished_at.has_value());
  LogEpoch(started[1], 1, "accuracy", 0.7);
  // The last running job pauses: two jobs at rung 0 promote none (fewer than
  // the reduction), nothing is left to start, so the sweep ends at once.
  absl::StatusOr<JobState> state = Finish(started[1], AttemptOutcome::kSucceeded);
  ASSERT_TRUE(state.ok()) << state.status();
  SweepRecord after = Sweep(sweep);
  EXPECT_EQ(after.counts.stopped, 2);
  EXPECT_EQ(after.counts.paused, 0);
  EXPECT_TRUE(after.finished_at.has_value());
  JobRecord job = Job(started[0].job_id);
  EXPECT_EQ(job.state, JobState::kStopped);
  ASSERT_FALSE(job.decisions.empty());
  EXPECT_EQ(job.decisions.back().kind, "stop");
  EXPECT_EQ(job.decisions.back().reason,
            "stopped at rung 0 (epoch 1): accuracy 0.5, below the rung's top third (none: 2 "
            "jobs seen, fewer than 3)");
  // Stopped jobs cost nothing from the retry budget, and retry resumes one
  // to its full epochs (budget 0) from its checkpoint.
  EXPECT_EQ(job.failures, 0);
  absl::StatusOr<int64_t> retried = store_->Retry(sweep, {JobState::kStopped}, now_);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(*retried, 2);
  Assignment resumed = MustClaim();
  EXPECT_EQ(resumed.epoch_budget, 0);
  ASSERT_TRUE(Finish(resumed, AttemptOutcome::kSucceeded).ok());
  EXPECT_EQ(Job(resumed.job_id).state, JobState::kSucceeded);
}

TEST_F(SqliteStoreTest, AshaOutranksOnlyLowerPriorityWork) {
  MakeSweep(1, /*priority=*/5, 3, "urgent");
  MakeScheduledSweep(2, kAsha9);
  Assignment first = MustClaim();
  EXPECT_EQ(first.epoch_budget, 0);  // the priority-5 plain job
  Assignment second = MustClaim();
  EXPECT_EQ(second.epoch_budget, 1);  // then an ASHA trial
}

TEST_F(SqliteStoreTest, AshaLostJobResumesToTheSameRung) {
  MakeScheduledSweep(2, kAsha9);
  Assignment a = MustClaim();
  EXPECT_EQ(ExpireAll(), 1);
  // Requeued: it keeps its budget and goes before the next new trial.
  Assignment again = MustClaim();
  EXPECT_EQ(again.job_id, a.job_id);
  EXPECT_EQ(again.epoch_budget, 1);
  EXPECT_EQ(Job(a.job_id).decisions.size(), 1u);  // the start; no second decision
}

constexpr char kMedian[] = R"({"kind":"median","metric":"accuracy","mode":"max","warmup_epochs":1})";

TEST_F(SqliteStoreTest, MedianStopsAJobBelowTheOthersMedianThroughTheHeartbeat) {
  const int64_t sweep = MakeScheduledSweep(4, kMedian);
  std::vector<Assignment> a = {MustClaim(), MustClaim(), MustClaim(), MustClaim()};
  const double at_epoch_2[] = {0.8, 0.7, 0.6, 0.3};
  for (int i = 0; i < 4; ++i) {
    LogEpoch(a[i], 1, "accuracy", 0.1);
    LogEpoch(a[i], 2, "accuracy", at_epoch_2[i]);
  }
  std::vector<AttemptRef> refs;
  for (const Assignment& x : a) refs.push_back(x.attempt);
  absl::StatusOr<std::vector<Order>> orders =
      store_->RenewLeases(worker_, refs, now_ + kLease, now_);
  ASSERT_TRUE(orders.ok()) << orders.status();
  // 0.6 and 0.3 are below the median (0.7) of the other three; 0.7 is not
  // below the others' 0.6 .. 0.8, nor is 0.8.
  ASSERT_EQ(orders->size(), 2u);
  EXPECT_EQ((*orders)[0].attempt_id, a[2].attempt.attempt_id);
  EXPECT_EQ((*orders)[1].attempt_id, a[3].attempt.attempt_id);
  EXPECT_EQ((*orders)[1].kind, OrderKind::kStop);
  EXPECT_TRUE(Job(a[1].job_id).decisions.empty());
  JobRecord job = Job(a[3].job_id);
  ASSERT_EQ(job.decisions.size(), 1u);
  EXPECT_EQ(job.decisions[0].kind, "stop");
  EXPECT_EQ(job.decisions[0].epoch, 2);
  EXPECT_NE(job.decisions[0].reason.find("median 0.7"), std::string::npos) << job.decisions[0].reason;
  // The order stands on every heartbeat; the decision is taken once.
  orders = store_->RenewLeases(worker_, refs, now_ + kLease, now_);
  ASSERT_TRUE(orders.ok());
  ASSERT_EQ(orders->size(), 2u);
  EXPECT_EQ(Job(a[3].job_id).decisions.size(), 1u);
  // The worker reports it stopped: free, terminal; a drain instead of the
  // stop would end it stopped as well.
  absl::StatusOr<JobState> state = Finish(a[3], AttemptOutcome::kStopped);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, JobState::kStopped);
  EXPECT_EQ(Job(a[3].job_id).failures, 0);
  EXPECT_EQ(Sweep(sweep).counts.stopped, 1);
}

}  // namespace
}  // namespace switchyard::server
