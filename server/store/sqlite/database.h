// The one place that talks to SQLite: a Database owns one connection and its
// pragmas, a cache of prepared statements, and the mapping of SQLite result
// codes to absl::Status. Nothing else in the project includes sqlite3.h.
//
// Threads: a Database (and every Statement it hands out) belongs to one thread
// at a time; the caller serialises. SqliteStore keeps one writable Database on
// its writer thread and a pool of read-only ones.
//
// Status codes returned by every call that touches the database:
//   UNAVAILABLE  SQLITE_FULL, SQLITE_IOERR*, SQLITE_BUSY / SQLITE_LOCKED past
//                the busy timeout, SQLITE_NOMEM, SQLITE_CANTOPEN,
//                SQLITE_READONLY: retry later. Such an error also marks the
//                connection (TakeFatalError) so that the writer rolls back
//                the whole transaction, whoever swallowed the status.
//   INTERNAL     SQLITE_CORRUPT, SQLITE_NOTADB, a misuse, any other error
//   ALREADY_EXISTS a UNIQUE or PRIMARY KEY constraint (callers that expect it
//                turn it into their own code)
//   FAILED_PRECONDITION any other constraint (CHECK, NOT NULL, FOREIGN KEY)
#ifndef SWITCHYARD_SERVER_STORE_SQLITE_DATABASE_H_
#define SWITCHYARD_SERVER_STORE_SQLITE_DATABASE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct sqlite3;
struct sqlite3_stmt;

namespace switchyard::server::sqlite {

class Database;

// A prepared statement. Parameters are 1-based, columns 0-based, as in
// SQLite. Owned either by the caller (Database::Prepare) or by the
// connection's cache (Database::Cached, through a ScopedStatement).
class Statement {
 public:
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void BindInt64(int index, int64_t value);
  void BindDouble(int index, double value);  // NaN is stored as NULL by SQLite
  void BindText(int index, std::string_view value);
  void BindNull(int index);
  void BindBool(int index, bool value) { BindInt64(index, value ? 1 : 0); }
  void BindTime(int index, absl::Time value);  // REAL unix seconds

  // Advances: true when a row is ready, false when done. Errors as above.
  absl::StatusOr<bool> Step();
  // Steps to the end, ignoring rows (an INSERT, UPDATE, DELETE).
  absl::Status Run();

  int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;  // NULL reads as 0: see ColumnIsNull
  std::string ColumnText(int column) const;
  bool ColumnIsNull(int column) const;
  bool ColumnBool(int column) const { return ColumnInt64(column) != 0; }
  // REAL unix seconds, rounded to the microsecond.
  absl::Time ColumnTime(int column) const;

  // Ready for new bindings and a new run.
  void Reset();

 private:
  friend class Database;
  Statement(Database* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  Database* db_;
  sqlite3_stmt* stmt_;
};

// A cached statement borrowed for one use; it is reset (bindings cleared) when
// the handle goes away, so the next user starts clean.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement* stmt) : stmt_(stmt) {}
  ScopedStatement(ScopedStatement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;
  ScopedStatement& operator=(ScopedStatement&&) = delete;
  ~ScopedStatement() {
    if (stmt_ != nullptr) stmt_->Reset();
  }
  Statement* operator->() const { return stmt_; }
  Statement& operator*() const { return *stmt_; }

 private:
  Statement* stmt_;
};

enum class Synchronous { kFull, kNormal };

struct DatabaseOptions {
  std::string path;
  bool read_only = false;
  Synchronous synchronous = Synchronous::kFull;
  absl::Duration busy_timeout = absl::Seconds(5);
  // Page cache per connection, in KiB.
  int64_t cache_kib = 32 * 1024;
  // PRAGMA max_page_count; 0 leaves SQLite's default (no practical limit).
  int64_t max_page_count = 0;
};

class Database {
 public:
  // Opens (creating it unless read_only) and applies the pragmas: WAL,
  // foreign_keys=ON, busy_timeout, synchronous, cache size, and for a
  // writable connection journal_size_limit (64 MiB) and max_page_count. UNAVAILABLE when
  // the file cannot be opened; INTERNAL when it is not a database.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without parameters (migrations, pragmas,
  // BEGIN/COMMIT).
  absl::Status Execute(std::string_view sql);

  // A statement prepared once per connection and kept; `sql` should be one of
  // the named constants beside the code that runs it.
  absl::StatusOr<ScopedStatement> Cached(std::string_view sql);

  // A single integer from a one-row query without parameters (PRAGMAs).
  absl::StatusOr<int64_t> QueryInt64(std::string_view sql);

  // Takes WAL checkpoints out of this connection's commits: SQLite stops
  // checkpointing after them and this connection records how many frames the
  // WAL holds after each of its commits instead (WalFrames). Whoever calls
  // this must run CheckpointPassive itself, here or on another connection.
  void TrackWalInsteadOfAutoCheckpoint();
  int64_t WalFrames() const { return wal_frames_; }
  // Copies what it can from the WAL into the database file without waiting
  // for readers or the writer (PRAGMA wal_checkpoint(PASSIVE)).
  absl::Status CheckpointPassive();

  int64_t LastInsertRowId() const;
  int64_t Changes() const;  // rows changed by the last INSERT/UPDATE/DELETE
  bool InTransaction() const;

  // The first error since the last call that leaves the connection's
  // transaction unusable (the UNAVAILABLE and corruption codes above), or OK;
  // clears it.
  absl::Status TakeFatalError();

  const std::string& path() const { return path_; }

 private:
  friend class Statement;
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  // Maps a SQLite result code (with the connection's message) to a status.
  absl::Status ErrorStatus(int code, std::string_view context);

  sqlite3* db_;
  std::string path_;
  absl::Status fatal_error_;  // the first unusable-transaction error
  int64_t wal_frames_ = 0;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> cache_;
};

}  // namespace switchyard::server::sqlite

#endif  // SWITCHYARD_SERVER_STORE_SQLITE_DATABASE_H_
