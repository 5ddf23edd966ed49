// Schema migrations: numbered SQL files (migrations/NNNN_name.sql) embedded
// into the binary at build time and applied forward only, each in its own
// transaction that also sets PRAGMA user_version to its number.
//
// Threads: ApplyMigrations runs on the caller's thread with exclusive use of
// the Database (SqliteStore::Open calls it before any other connection opens).
#ifndef SWITCHYARD_SERVER_STORE_MIGRATIONS_H_
#define SWITCHYARD_SERVER_STORE_MIGRATIONS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/store/sqlite/database.h"

namespace switchyard::server {

struct Migration {
  int64_t version;   // 1, 2, 3, ...: the file's number
  const char* name;  // the file name, for messages
  const char* sql;   // the file's text
};

// Every migration of this build, in version order (generated at build time
// from migrations/*.sql).
absl::Span<const Migration> EmbeddedMigrations();

// The schema version this binary knows (the last embedded migration).
int64_t LatestSchemaVersion();

// Reads PRAGMA user_version and applies every migration newer than it, in
// order, each in its own IMMEDIATE transaction with the user_version bump.
// `migrations` must be numbered 1, 2, 3, ... with no gap (INTERNAL otherwise:
// a build bug). Returns:
//   FAILED_PRECONDITION "database schema version 7 is newer than this
//                       coordinator (knows up to 1); upgrade the coordinator"
//   UNAVAILABLE / INTERNAL from the database; a failed migration is rolled
//                       back whole and the ones before it stay applied.
absl::Status ApplyMigrations(sqlite::Database& db, absl::Span<const Migration> migrations);

// PRAGMA user_version.
absl::StatusOr<int64_t> SchemaVersion(sqlite::Database& db);

}  // namespace switchyard::server

#endif  // SWITCHYARD_SERVER_STORE_MIGRATIONS_H_
