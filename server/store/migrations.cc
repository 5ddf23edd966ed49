#include "server/store/migrations.h"

#include "absl/strings/str_cat.h"

namespace switchyard::server {

absl::StatusOr<int64_t> SchemaVersion(sqlite::Database& db) {
  return db.QueryInt64("PRAGMA user_version");
}

int64_t LatestSchemaVersion() {
  absl::Span<const Migration> all = EmbeddedMigrations();
  return all.empty() ? 0 : all.back().version;
}

absl::Status ApplyMigrations(sqlite::Database& db, absl::Span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int64_t>(i) + 1) {
      return absl::InternalError(absl::StrCat("migration ", migrations[i].name, " has number ",
                                              migrations[i].version, ", expected ", i + 1));
    }
  }
  const int64_t known = migrations.empty() ? 0 : migrations.back().version;
  absl::StatusOr<int64_t> current = SchemaVersion(db);
  if (!current.ok()) return current.status();
  if (*current > known) {
    return absl::FailedPreconditionError(
        absl::StrCat("database schema version ", *current, " is newer than this coordinator (knows up to ",
                     known, "); upgrade the coordinator"));
  }
  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    // IMMEDIATE takes the write lock first, so two processes racing to
    // migrate the same file serialise instead of failing half-way.
    if (absl::Status s = db.Execute("BEGIN IMMEDIATE"); !s.ok()) return s;
    absl::Status s = db.Execute(m.sql);
    if (s.ok()) s = db.Execute(absl::StrCat("PRAGMA user_version = ", m.version));
    if (s.ok()) s = db.Execute("COMMIT");
    if (!s.ok()) {
      if (db.InTransaction()) (void)db.Execute("ROLLBACK");
      (void)db.TakeFatalError();
      return absl::Status(s.code(), absl::StrCat("migration ", m.name, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace switchyard::server
