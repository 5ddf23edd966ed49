// The ceiling of metric ingestion: one C++ writer inserting the rows that the
// metric streams carry straight into a database with the coordinator's
// schema (its migrations) and pragmas, with the sqlite3 C API. Used by
// bench/coordinator and bench/compare.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::bench {

struct RawResult {
  double points_per_second = 0;
  int64_t points = 0;
  // Per transaction: from its first row being bound to its COMMIT returning
  // (from then on every row of it is queryable).
  std::vector<double> lag_ms;
};

// Creates `path` and inserts `jobs` x `points_per_job` points (10 metrics per
// step), a transaction of at most `rows_per_transaction` rows of one job at a
// time, the jobs taking turns as concurrent streams do. `sync` is "full" or
// "normal" (PRAGMA synchronous). Exits the process on any SQLite error.
RawResult InsertRaw(const std::string& path, const std::string& sync, int jobs,
                    int64_t points_per_job, int rows_per_transaction);

}  // namespace switchyard::bench
