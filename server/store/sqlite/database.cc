#include "server/store/sqlite/database.h"

#include <sqlite3.h>

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace switchyard::server::sqlite {
namespace {

// Codes after which the transaction cannot be trusted to continue: SQLite may
// already have rolled it back (FULL, IOERR, NOMEM) or the write never
// happened (BUSY): the writer rolls back the whole group.
bool IsUnavailableCode(int primary) {
  switch (primary) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

bool IsCorruptCode(int primary) {
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

// The start of a statement, for messages. (A std::string: Debian's Abseil
// has its own string_view, which std::string_view does not convert to.)
std::string Abbreviate(std::string_view sql) {
  constexpr size_t kMax = 80;
  while (!sql.empty() && (sql.front() == ' ' || sql.front() == '\n')) sql.remove_prefix(1);
  return std::string(sql.size() <= kMax ? sql : sql.substr(0, kMax));
}

}  // namespace

// ---- Statement

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::BindInt64(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Statement::BindDouble(int index, double value) {
  // SQLite turns NaN into NULL itself; be explicit so the intent is visible.
  if (std::isnan(value)) {
    sqlite3_bind_null(stmt_, index);
  } else {
    sqlite3_bind_double(stmt_, index, value);
  }
}

void Statement::BindText(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
}

void Statement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

void Statement::BindTime(int index, absl::Time value) {
  // Whole microseconds (Debian's Abseil has no ToDoubleUnixSeconds); the
  // infinities stay infinities.
  if (value == absl::InfiniteFuture() || value == absl::InfinitePast()) {
    sqlite3_bind_double(stmt_, index, value == absl::InfiniteFuture() ? HUGE_VAL : -HUGE_VAL);
    return;
  }
  sqlite3_bind_double(stmt_, index, static_cast<double>(absl::ToUnixMicros(value)) / 1e6);
}

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->ErrorStatus(rc, sqlite3_sql(stmt_));
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

absl::Time Statement::ColumnTime(int column) const {
  const double seconds = sqlite3_column_double(stmt_, column);
  if (std::isinf(seconds)) return seconds > 0 ? absl::InfiniteFuture() : absl::InfinitePast();
  // Doubles near 1.7e9 carry ~0.2 us of precision: round to whole
  // microseconds so a time written in microseconds reads back equal.
  return absl::FromUnixMicros(std::llround(seconds * 1e6));
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// ---- Database

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  if (options.path.empty() || options.path == ":memory:") {
    return absl::InvalidArgumentError("database path must name a file (WAL needs one)");
  }
  const int flags = (options.read_only ? SQLITE_OPEN_READONLY
                                       : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(options.path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    const std::string text = absl::StrCat("cannot open database ", options.path, ": ", message);
    return IsCorruptCode(rc & 0xff) ? absl::InternalError(text) : absl::UnavailableError(text);
  }
  sqlite3_extended_result_codes(raw, 1);
  std::unique_ptr<Database> db(new Database(raw, options.path));

  sqlite3_busy_timeout(raw, static_cast<int>(absl::ToInt64Milliseconds(options.busy_timeout)));
  // journal_mode is persistent in the file; a read-only connection cannot
  // set it and relies on the writer having done so.
  if (!options.read_only) {
    absl::StatusOr<ScopedStatement> wal = db->Cached("PRAGMA journal_mode = WAL");
    if (!wal.ok()) return wal.status();
    absl::StatusOr<bool> row = (*wal)->Step();
    if (!row.ok()) return row.status();
    if (!*row || (*wal)->ColumnText(0) != "wal") {
      return absl::UnavailableError(
          absl::StrCat("database ", options.path, ": cannot switch to WAL mode"));
    }
  }
  std::string pragmas = absl::StrCat(
      "PRAGMA foreign_keys = ON;",
      "PRAGMA synchronous = ", options.synchronous == Synchronous::kFull ? "FULL" : "NORMAL", ";",
      "PRAGMA cache_size = -", options.cache_kib, ";",
      "PRAGMA temp_store = MEMORY;");
  if (!options.read_only) {
    // The WAL is reused from its start after a checkpoint, never shrunk:
    // this caps what a burst leaves behind on disk.
    absl::StrAppend(&pragmas, "PRAGMA journal_size_limit = ", 64 << 20, ";");
  }
  if (options.max_page_count > 0) {
    absl::StrAppend(&pragmas, "PRAGMA max_page_count = ", options.max_page_count, ";");
  }
  if (absl::Status s = db->Execute(pragmas); !s.ok()) return s;
  // Reading the schema here turns "not a database" into an error at open
  // rather than at the first query.
  if (absl::StatusOr<int64_t> v = db->QueryInt64("PRAGMA schema_version"); !v.ok()) {
    return v.status();
  }
  return db;
}

Database::~Database() {
  cache_.clear();  // finalize before close
  sqlite3_close_v2(db_);
}

absl::Status Database::Execute(std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (error != nullptr) sqlite3_free(error);
  if (rc != SQLITE_OK) return ErrorStatus(rc, text);
  return absl::OkStatus();
}

absl::StatusOr<ScopedStatement> Database::Cached(std::string_view sql) {
  auto it = cache_.find(absl::string_view(sql.data(), sql.size()));
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return ErrorStatus(rc, sql);
    }
    it = cache_.emplace(std::string(sql), std::unique_ptr<Statement>(new Statement(this, stmt)))
             .first;
  }
  return ScopedStatement(it->second.get());
}

absl::StatusOr<int64_t> Database::QueryInt64(std::string_view sql) {
  absl::StatusOr<ScopedStatement> stmt = Cached(sql);
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = (*stmt)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError(absl::StrCat("no row from: ", Abbreviate(sql)));
  return (*stmt)->ColumnInt64(0);
}

void Database::TrackWalInsteadOfAutoCheckpoint() {
  // A WAL hook replaces the automatic checkpoint, which is itself a hook.
  sqlite3_wal_hook(
      db_,
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<Database*>(self)->wal_frames_ = frames;
        return SQLITE_OK;
      },
      this);
}

absl::Status Database::CheckpointPassive() {
  const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                           nullptr);
  // BUSY: another checkpoint is running; that one does the work.
  if (rc == SQLITE_OK || rc == SQLITE_BUSY) return absl::OkStatus();
  return ErrorStatus(rc, "PRAGMA wal_checkpoint(PASSIVE)");
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

int64_t Database::Changes() const { return sqlite3_changes64(db_); }

bool Database::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

absl::Status Database::TakeFatalError() { return std::exchange(fatal_error_, absl::OkStatus()); }

absl::Status Database::ErrorStatus(int code, std::string_view context) {
  const int primary = code & 0xff;
  const std::string message =
      absl::StrCat("sqlite ", path_, ": ", sqlite3_errmsg(db_), " (", sqlite3_errstr(code),
                   ", code ", code, ") in: ", Abbreviate(context));
  if (IsUnavailableCode(primary) || IsCorruptCode(primary)) {
    absl::Status status = IsCorruptCode(primary) ? absl::InternalError(message)
                                                 : absl::UnavailableError(message);
    if (fatal_error_.ok()) fatal_error_ = status;
    return status;
  }
  if (primary == SQLITE_CONSTRAINT) {
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(message);
    }
    return absl::FailedPreconditionError(message);
  }
  return absl::InternalError(message);
}

}  // namespace switchyard::server::sqlite
