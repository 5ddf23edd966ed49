// The migration runner and the embedded migrations: a fresh database, an
// upgrade from every earlier schema version holding real rows, refusal of a
// newer database, and a failed migration leaving no trace.
#include "server/store/migrations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/store/sqlite_store.h"
#include "tests/server/store/temp_dir.h"

namespace switchyard::server {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::testing::Pair;

std::unique_ptr<sqlite::Database> OpenDb(const std::string& path) {
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open({.path = path});
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

absl::StatusOr<std::unique_ptr<SqliteStore>> OpenStore(const std::string& path) {
  SqliteStore::Options options;
  options.path = path;
  options.read_connections = 1;
  return SqliteStore::Open(options);
}

TEST(EmbeddedMigrationsTest, NumberedFromOneWithoutGaps) {
  absl::Span<const Migration> all = EmbeddedMigrations();
  ASSERT_FALSE(all.empty());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int64_t>(i) + 1);
    EXPECT_THAT(std::string(all[i].name), ::testing::StartsWith(absl::StrCat(
                                              std::string(4 - std::to_string(i + 1).size(), '0'),
                                              i + 1, "_")));
    EXPECT_THAT(std::string(all[i].sql), HasSubstr(";"));
  }
  EXPECT_EQ(LatestSchemaVersion(), all.back().version);
  EXPECT_EQ(std::string(all[0].name), "0001_init.sql");
}

TEST(MigrationsTest, FromEmpty) {
  testing::TempDir dir;
  const std::string path = dir.File("s.db");
  ASSERT_TRUE(OpenStore(path).ok());
  std::unique_ptr<sqlite::Database> db = OpenDb(path);
  EXPECT_EQ(SchemaVersion(*db).value_or(-1), LatestSchemaVersion());
  for (const char* table : {"sweeps", "jobs", "attempts", "workers", "metrics", "metric_names",
                            "metric_last", "checkpoints", "job_states", "attempt_outcomes"}) {
    EXPECT_EQ(db->QueryInt64(absl::StrCat("SELECT COUNT(*) FROM sqlite_schema WHERE type = "
                                          "'table' AND name = '", table, "'"))
                  .value_or(-1),
              1)
        << table;
  }
  for (const char* view : {"job_final_metrics", "job_curves", "sweep_progress", "job_overview"}) {
    EXPECT_EQ(db->QueryInt64(absl::StrCat("SELECT COUNT(*) FROM sqlite_schema WHERE type = "
                                          "'view' AND name = '", view, "'"))
                  .value_or(-1),
              1)
        << view;
  }
  EXPECT_EQ(db->QueryInt64("SELECT COUNT(*) FROM pragma_foreign_key_check").value_or(-1), 0);
}

// ---- upgrades with real rows
//
// One case per schema version: `fill` writes rows with plain SQL in the
// schema of that version (never through the store, whose SQL follows the
// newest schema), and `check` reads them back through the store after it
// has migrated the file to the newest version. The case for the newest
// version is the "re-open is a no-op" case.
//
// ADDING A MIGRATION: add the case for its version here (its fill writes the
// new schema's rows). The test below fails until every version has one, so
// an upgrade from each earlier version stays tested with real rows.
struct UpgradeCase {
  int64_t version;
  std::function<void(sqlite::Database&)> fill;
  std::function<void(SqliteStore&)> check;
};

void ExecOrFail(sqlite::Database& db, const std::string& sql) {
  absl::Status s = db.Execute(sql);
  ASSERT_TRUE(s.ok()) << s;
}

// Rows in the 0001 schema: a sweep of two jobs, one running with metrics and
// a checkpoint, one succeeded; a worker.
void FillVersion1(sqlite::Database& db) {
  ExecOrFail(db, R"sql(
    INSERT INTO sweeps (id, name, priority, max_attempts, spec_json, created_at)
      VALUES (1, 'old', 3, 2, '{"name":"old"}', 1700000000.0);
    INSERT INTO workers (id, name, hostname, devices_json, registered_at, last_seen)
      VALUES (1, 'w', 'h', '[{"name":"cpu","kind":"cpu","memory_bytes":0,"slots":2,"description":""}]',
              1700000000.0, 1700000001.0);
    INSERT INTO jobs (id, sweep_id, cell_index, cell_key, config_json, priority, state,
                      attempt_count, created_at, updated_at)
      VALUES (1, 1, 0, 'a', '{"model":"mlp","attention":"none","tasks":"IARC","seed":1}', 3, 2, 1,
              1700000000.0, 1700000000.0),
             (2, 1, 1, 'b', '{"model":"lstm","attention":"none","tasks":"IARC","seed":2}', 3, 3, 1,
              1700000000.0, 1700000000.0);
    INSERT INTO attempts (id, job_id, number, worker_id, device, fencing_token, outcome,
                          started_at, ended_at, lease_expires)
      VALUES (1, 1, 1, 1, 'cpu', 'tok1', 1, 1700000000.0, NULL, 1700000060.0),
             (2, 2, 1, 1, 'cpu', 'tok2', 2, 1700000000.0, 1700000030.0, 1700000060.0);
    UPDATE jobs SET current_attempt_id = 1 WHERE id = 1;
    INSERT INTO checkpoints (id, job_id, attempt_id, step, size_bytes, sha256, path, created_at)
      VALUES (1, 1, 1, 100, 10, 'ab', 'ckpt/1/100', 1700000010.0);
    INSERT INTO metric_names (id, name) VALUES (1, 'loss');
    INSERT INTO metrics (job_id, name_id, step, value, wall_time)
      VALUES (1, 1, 0, 2.0, 1700000001.0), (1, 1, 100, 1.0, 1700000002.0),
             (2, 1, 50, 0.5, 1700000003.0);
    INSERT INTO metric_last (job_id, name_id, step, value, wall_time)
      VALUES (1, 1, 100, 1.0, 1700000002.0), (2, 1, 50, 0.5, 1700000003.0);
  )sql");
}

void CheckVersion1(SqliteStore& store) {
  absl::StatusOr<SweepRecord> sweep = store.GetSweep(1);
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->name, "old");
  EXPECT_EQ(sweep->priority, 3);
  EXPECT_EQ(sweep->counts.running, 1);
  EXPECT_EQ(sweep->counts.succeeded, 1);
  absl::StatusOr<JobRecord> job = store.GetJob(1);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kRunning);
  ASSERT_EQ(job->attempts.size(), 1u);
  EXPECT_EQ(job->attempts[0].worker_name, "w");
  EXPECT_THAT(job->final_metrics, UnorderedElementsAre(Pair("loss", 1.0)));
  // The running attempt still holds its lease and fencing token.
  absl::StatusOr<int64_t> of = store.JobOfRunningAttempt({1, "tok1"});
  ASSERT_TRUE(of.ok()) << of.status();
  EXPECT_EQ(*of, 1);
  absl::StatusOr<CheckpointRecord> ckpt = store.GetCheckpointFor({1, "tok1"}, 1);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->path, "ckpt/1/100");
  std::vector<JobMetricPoint> points;
  ASSERT_TRUE(store
                  .QueryMetrics({.sweep_id = 1}, 10,
                                [&](const auto& chunk) {
                                  points.insert(points.end(), chunk.begin(), chunk.end());
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(points.size(), 3u);
  absl::StatusOr<WorkerRecord> worker = store.GetWorker(1);
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_EQ(worker->devices.size(), 1u);
  EXPECT_EQ(worker->devices[0].slots, 2);
  // And it still works: the rows take new writes.
  absl::StatusOr<JobState> state = store.FinishAttempt(
      {1, "tok1"}, AttemptOutcome::kSucceeded, "", "", absl::FromUnixSeconds(1'700'000'100));
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, JobState::kSucceeded);
  absl::StatusOr<SweepRecord> finished = store.GetSweep(1);
  ASSERT_TRUE(finished.ok());
  EXPECT_TRUE(finished->finished_at.has_value());
}

// Rows in the 0002 schema: version 1's, plus a quarantined worker whose
// last attempt ended with an environment error, and a job failed at once by
// a config error.
void FillVersion2(sqlite::Database& db) {
  FillVersion1(db);
  ExecOrFail(db, R"sql(
    INSERT INTO workers (id, name, hostname, devices_json, registered_at, last_seen,
                         environment_failures, quarantined_at, quarantine_cause)
      VALUES (2, 'broken', 'h2', '[{"name":"cuda:0","kind":"cuda","memory_bytes":0,"slots":1,"description":""}]',
              1700000000.0, 1700000001.0, 3, 1700000050.0, 'trainer exit code 5');
    UPDATE jobs SET state = 4, failures = 1, current_attempt_id = NULL WHERE id = 1;
    UPDATE attempts SET outcome = 7, ended_at = 1700000040.0 WHERE id = 1;
    INSERT INTO attempts (id, job_id, number, worker_id, device, fencing_token, outcome,
                          started_at, ended_at, lease_expires)
      VALUES (3, 2, 2, 2, 'cuda:0', 'tok3', 8, 1700000041.0, 1700000042.0, 1700000060.0);
  )sql");
}

void CheckVersion2(SqliteStore& store) {
  absl::StatusOr<WorkerRecord> worker = store.GetWorker(2);
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ(worker->environment_failures, 3);
  ASSERT_TRUE(worker->quarantined_at.has_value());
  EXPECT_EQ(worker->quarantine_cause, "trainer exit code 5");
  absl::StatusOr<JobRecord> job = store.GetJob(1);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kFailed);
  EXPECT_EQ(job->attempts[0].outcome, AttemptOutcome::kConfigError);
  absl::StatusOr<JobRecord> other = store.GetJob(2);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->attempts.back().outcome, AttemptOutcome::kEnvironmentError);
  absl::StatusOr<bool> lifted = store.UnquarantineWorker(2);
  ASSERT_TRUE(lifted.ok()) << lifted.status();
  EXPECT_TRUE(*lifted);
}

// Version 1's rows, upgraded: the workers are healthy and take the new
// outcomes.
void CheckVersion1Upgraded(SqliteStore& store) {
  CheckVersion1(store);
  absl::StatusOr<WorkerRecord> worker = store.GetWorker(1);
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ(worker->environment_failures, 0);
  EXPECT_FALSE(worker->quarantined_at.has_value());
}

// Rows in the 0003 schema: version 2's, plus a worker that runs a program
// of its own and a job of that program.
void FillVersion3(sqlite::Database& db) {
  FillVersion2(db);
  ExecOrFail(db, R"sql(
    INSERT INTO workers (id, name, hostname, devices_json, registered_at, last_seen, programs_json)
      VALUES (3, 'own', 'h3', '[]', 1700000000.0, 1700000001.0, '["switchyard-train","mamba"]');
    UPDATE jobs SET program = 'mamba' WHERE id = 2;
  )sql");
}

void CheckVersion3(SqliteStore& store) {
  CheckVersion2(store);
  absl::StatusOr<WorkerRecord> worker = store.GetWorker(3);
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ(worker->programs, (std::vector<std::string>{"switchyard-train", "mamba"}));
}

// Workers registered before 0003 run the built-in trainer alone.
void CheckVersion2Upgraded(SqliteStore& store) {
  CheckVersion2(store);
  for (int64_t id : {1, 2}) {
    absl::StatusOr<WorkerRecord> worker = store.GetWorker(id);
    ASSERT_TRUE(worker.ok()) << worker.status();
    EXPECT_EQ(worker->programs, std::vector<std::string>{"switchyard-train"}) << "worker " << id;
  }
}

// Rows in the 0004 schema: version 3's, plus an ASHA sweep with a paused
// job (its rung result and decision) and a stopped job.
void FillVersion4(sqlite::Database& db) {
  FillVersion3(db);
  ExecOrFail(db, R"sql(
    INSERT INTO sweeps (id, name, max_attempts, created_at, scheduler_json)
      VALUES (2, 'asha', 3, 1700000000.0,
              '{"kind":"asha","metric":"accuracy","mode":"max","min_epochs":1,"max_epochs":9,"reduction":3}');
    INSERT INTO jobs (id, sweep_id, cell_index, cell_key, config_json, priority, state,
                      created_at, updated_at, epoch_budget)
      VALUES (10, 2, 0, 'a', '{}', 0, 7, 1700000000.0, 1700000000.0, 1),
             (11, 2, 1, 'b', '{}', 0, 8, 1700000000.0, 1700000000.0, 1);
    INSERT INTO rung_results (job_id, rung, epoch, value, recorded_at)
      VALUES (10, 0, 1, 0.5, 1700000010.0), (11, 0, 1, 0.25, 1700000010.0);
    INSERT INTO schedule_decisions (sweep_id, job_id, kind, rung, epoch, value, reason,
                                    inputs_json, decided_at)
      VALUES (2, 11, 'stop', 0, 1, 0.25, 'stopped at rung 0 (epoch 1)', '{}', 1700000020.0);
  )sql");
}

void CheckVersion4(SqliteStore& store) {
  CheckVersion3(store);
  absl::StatusOr<SweepRecord> sweep = store.GetSweep(2);
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->counts.paused, 1);
  EXPECT_EQ(sweep->counts.stopped, 1);
  ASSERT_EQ(sweep->rungs.size(), 3u);
  EXPECT_EQ(sweep->rungs[0].reached, 2);
  EXPECT_EQ(sweep->rungs[0].stopped, 1);
  EXPECT_EQ(sweep->rungs[0].paused, 1);
  absl::StatusOr<JobRecord> stopped = store.GetJob(11);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_EQ(stopped->decisions.size(), 1u);
  EXPECT_EQ(stopped->decisions[0].reason, "stopped at rung 0 (epoch 1)");
}

// Sweeps before 0004 have no scheduler and no rungs.
void CheckVersion3Upgraded(SqliteStore& store) {
  CheckVersion3(store);
  absl::StatusOr<SweepRecord> sweep = store.GetSweep(1);
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->scheduler_json, "");
  EXPECT_TRUE(sweep->rungs.empty());
}

const std::vector<UpgradeCase>& UpgradeCases() {
  static const auto* cases = new std::vector<UpgradeCase>{
      {1, FillVersion1, CheckVersion1Upgraded},
      {2, FillVersion2, CheckVersion2Upgraded},
      {3, FillVersion3, CheckVersion3Upgraded},
      {4, FillVersion4, CheckVersion4},
  };
  return *cases;
}

TEST(MigrationsTest, EveryVersionHasAnUpgradeCase) {
  std::vector<int64_t> versions;
  for (const UpgradeCase& c : UpgradeCases()) versions.push_back(c.version);
  std::vector<int64_t> expected;
  for (const Migration& m : EmbeddedMigrations()) expected.push_back(m.version);
  EXPECT_EQ(versions, expected)
      << "add an UpgradeCase for each new migration (see the comment above UpgradeCase)";
}

TEST(MigrationsTest, UpgradesFromEveryVersionKeepTheRows) {
  absl::Span<const Migration> all = EmbeddedMigrations();
  for (const UpgradeCase& c : UpgradeCases()) {
    SCOPED_TRACE(absl::StrCat("from schema version ", c.version));
    int64_t jobs_filled = -1;
    testing::TempDir dir;
    const std::string path = dir.File("s.db");
    {
      std::unique_ptr<sqlite::Database> db = OpenDb(path);
      ASSERT_NE(db, nullptr);
      ASSERT_TRUE(ApplyMigrations(*db, all.subspan(0, c.version)).ok());
      ASSERT_EQ(SchemaVersion(*db).value_or(-1), c.version);
      c.fill(*db);
      ASSERT_EQ(db->QueryInt64("SELECT COUNT(*) FROM pragma_foreign_key_check").value_or(-1), 0);
      jobs_filled = db->QueryInt64("SELECT COUNT(*) FROM jobs").value_or(-1);
    }
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = OpenStore(path);
    ASSERT_TRUE(store.ok()) << store.status();
    c.check(**store);
    store->reset();
    std::unique_ptr<sqlite::Database> db = OpenDb(path);
    EXPECT_EQ(SchemaVersion(*db).value_or(-1), LatestSchemaVersion());
    EXPECT_EQ(db->QueryInt64("SELECT COUNT(*) FROM pragma_foreign_key_check").value_or(-1), 0);
    EXPECT_EQ(db->QueryInt64("SELECT COUNT(*) FROM jobs").value_or(-1), jobs_filled);
  }
}

TEST(MigrationsTest, ReopenIsANoOp) {
  testing::TempDir dir;
  const std::string path = dir.File("s.db");
  ASSERT_TRUE(OpenStore(path).ok());
  {
    std::unique_ptr<sqlite::Database> db = OpenDb(path);
    FillVersion1(*db);
  }
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = OpenStore(path);
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<std::vector<JobRecord>> jobs = (*store)->ListJobs(1, std::nullopt);
    ASSERT_TRUE(jobs.ok());
    EXPECT_EQ(jobs->size(), 2u);
  }
}

TEST(MigrationsTest, RefusesANewerDatabase) {
  testing::TempDir dir;
  const std::string path = dir.File("s.db");
  ASSERT_TRUE(OpenStore(path).ok());
  {
    std::unique_ptr<sqlite::Database> db = OpenDb(path);
    ASSERT_TRUE(db->Execute("PRAGMA user_version = 7").ok());
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = OpenStore(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            absl::StrCat("database schema version 7 is newer than this coordinator (knows up to ",
                         LatestSchemaVersion(), "); upgrade the coordinator"));
  // Untouched.
  std::unique_ptr<sqlite::Database> db = OpenDb(path);
  EXPECT_EQ(SchemaVersion(*db).value_or(-1), 7);
}

TEST(MigrationsTest, AFailedMigrationLeavesNoTrace) {
  testing::TempDir dir;
  std::unique_ptr<sqlite::Database> db = OpenDb(dir.File("s.db"));
  const Migration migrations[] = {
      {1, "0001_a.sql", "CREATE TABLE a (x);"},
      {2, "0002_b.sql", "CREATE TABLE b (x); INSERT INTO a VALUES (1); SELECT no_such_fn();"},
  };
  absl::Status s = ApplyMigrations(*db, migrations);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("0002_b.sql"));
  EXPECT_EQ(SchemaVersion(*db).value_or(-1), 1);
  EXPECT_EQ(db->QueryInt64("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'b'").value_or(-1), 0);
  EXPECT_EQ(db->QueryInt64("SELECT COUNT(*) FROM a").value_or(-1), 0);

  const Migration gap[] = {{1, "0001_a.sql", "SELECT 1;"}, {3, "0003_c.sql", "SELECT 1;"}};
  EXPECT_EQ(ApplyMigrations(*db, gap).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace switchyard::server
