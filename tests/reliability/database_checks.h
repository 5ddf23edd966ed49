// Checks the reliability tests run on a coordinator's database file once the
// coordinator has stopped: PRAGMA integrity_check and reads of the metrics,
// through the store's own sqlite::Database (nothing else includes sqlite3.h).
#ifndef SWITCHYARD_TESTS_RELIABILITY_DATABASE_CHECKS_H_
#define SWITCHYARD_TESTS_RELIABILITY_DATABASE_CHECKS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "server/store/sqlite/database.h"

namespace switchyard::reliability {

inline absl::StatusOr<std::unique_ptr<server::sqlite::Database>> OpenReadOnly(
    const std::string& path) {
  server::sqlite::DatabaseOptions options;
  options.path = path;
  options.read_only = true;
  return server::sqlite::Database::Open(options);
}

// "ok", or SQLite's list of problems, one per line.
inline absl::StatusOr<std::string> IntegrityCheck(
    server::sqlite::Database& db) {
  absl::StatusOr<server::sqlite::ScopedStatement> stmt =
      db.Cached("PRAGMA integrity_check");
  if (!stmt.ok()) return stmt.status();
  std::string text;
  while (true) {
    absl::StatusOr<bool> row = (*stmt)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return text;
    absl::StrAppend(&text, text.empty() ? "" : "\n", (*stmt)->ColumnText(0));
  }
}

// (job id, metric name, step) -> value, and how many rows each key has.
using MetricKey = std::tuple<int64_t, std::string, int64_t>;
struct StoredMetrics {
  std::map<MetricKey, double> values;
  std::map<MetricKey, int> rows;
};

inline absl::StatusOr<StoredMetrics> ReadMetrics(server::sqlite::Database& db) {
  absl::StatusOr<server::sqlite::ScopedStatement> stmt = db.Cached(
      "SELECT m.job_id, n.name, m.step, m.value FROM metrics m "
      "JOIN metric_names n ON n.id = m.name_id ORDER BY m.job_id, n.name, "
      "m.step");
  if (!stmt.ok()) return stmt.status();
  StoredMetrics stored;
  while (true) {
    absl::StatusOr<bool> row = (*stmt)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return stored;
    MetricKey key((*stmt)->ColumnInt64(0), (*stmt)->ColumnText(1),
                  (*stmt)->ColumnInt64(2));
    stored.values[key] = (*stmt)->ColumnDouble(3);
    ++stored.rows[key];
  }
}

}  // namespace switchyard::reliability

#endif  // SWITCHYARD_TESTS_RELIABILITY_DATABASE_CHECKS_H_
