#include "bench/coordinator/raw_sqlite.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "server/store/sqlite_store.h"

namespace switchyard::bench {
namespace {

using Clock = std::chrono::steady_clock;

void Check(sqlite3* db, int rc, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
  std::cerr << "raw SQLite: " << what << ": " << sqlite3_errmsg(db) << "\n";
  std::exit(1);
}

void Exec(sqlite3* db, const std::string& sql) {
  Check(db, sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), sql.c_str());
}

}  // namespace

RawResult InsertRaw(const std::string& path, const std::string& sync, int jobs,
                    int64_t points_per_job, int rows_per_transaction) {
  {  // The coordinator's own store creates the schema.
    server::SqliteStore::Options store_options;
    store_options.path = path;
    store_options.synchronous =
        sync == "full" ? server::sqlite::Synchronous::kFull : server::sqlite::Synchronous::kNormal;
    auto store = server::SqliteStore::Open(store_options);
    if (!store.ok()) {
      std::cerr << "raw SQLite: " << store.status() << "\n";
      std::exit(1);
    }
  }
  sqlite3* db = nullptr;
  Check(db, sqlite3_open(path.c_str(), &db), "open");
  Exec(db, "PRAGMA journal_mode=WAL");
  Exec(db, "PRAGMA foreign_keys=ON");
  Exec(db, sync == "full" ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  Exec(db, "BEGIN");
  Exec(db, "INSERT INTO sweeps (id, name, max_attempts, created_at) VALUES (1, 'raw', 1, 0)");
  for (int job = 1; job <= jobs; ++job) {
    Exec(db, "INSERT INTO jobs (id, sweep_id, cell_index, cell_key, config_json, priority, "
             "created_at, updated_at) VALUES (" +
                 std::to_string(job) + ", 1, " + std::to_string(job - 1) + ", 'cell" +
                 std::to_string(job) + "', '{}', 0, 0, 0)");
  }
  for (int metric = 1; metric <= 10; ++metric) {
    Exec(db, "INSERT INTO metric_names (id, name) VALUES (" + std::to_string(metric) + ", 'm" +
                 std::to_string(metric - 1) + "')");
  }
  Exec(db, "COMMIT");

  sqlite3_stmt* insert = nullptr;
  Check(db,
        sqlite3_prepare_v2(db,
                           "INSERT OR IGNORE INTO metrics (job_id, name_id, step, value, "
                           "wall_time) VALUES (?1, ?2, ?3, ?4, ?5)",
                           -1, &insert, nullptr),
        "prepare");
  RawResult result;
  std::vector<int64_t> written(jobs + 1, 0);  // points of each job so far
  const auto start = Clock::now();
  for (bool more = true; more;) {
    more = false;
    for (int job = 1; job <= jobs; ++job) {
      if (written[job] >= points_per_job) continue;
      more = true;
      const auto first_row = Clock::now();
      Exec(db, "BEGIN");
      for (int rows = 0; rows < rows_per_transaction && written[job] < points_per_job;
           ++rows, ++written[job]) {
        const int64_t step = written[job] / 10;
        sqlite3_bind_int64(insert, 1, job);
        sqlite3_bind_int64(insert, 2, 1 + written[job] % 10);
        sqlite3_bind_int64(insert, 3, step);
        sqlite3_bind_double(insert, 4, 0.001 * static_cast<double>(step));
        sqlite3_bind_double(insert, 5, 1.7e9);
        Check(db, sqlite3_step(insert), "insert");
        sqlite3_reset(insert);
      }
      Exec(db, "COMMIT");
      result.lag_ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - first_row).count());
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  for (int job = 1; job <= jobs; ++job) result.points += written[job];
  result.points_per_second = static_cast<double>(result.points) / seconds;
  return result;
}

}  // namespace switchyard::bench
