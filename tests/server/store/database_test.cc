// The SQLite wrapper: pragmas, binding and reading, and the mapping of SQLite
// errors to status codes.
#include "server/store/sqlite/database.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "tests/server/store/temp_dir.h"

namespace switchyard::server::sqlite {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  std::unique_ptr<Database> Open(DatabaseOptions options = {}) {
    if (options.path.empty()) options.path = path_;
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(options);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }

  server::testing::TempDir dir_;
  std::string path_ = dir_.File("test.db");
};

TEST_F(DatabaseTest, OpenSetsThePragmas) {
  std::unique_ptr<Database> db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->QueryInt64("PRAGMA foreign_keys").value_or(-1), 1);
  EXPECT_EQ(db->QueryInt64("PRAGMA synchronous").value_or(-1), 2);  // FULL
  absl::StatusOr<ScopedStatement> mode = db->Cached("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE((*mode)->Step().value_or(false));
  EXPECT_EQ((*mode)->ColumnText(0), "wal");
  EXPECT_GT(db->QueryInt64("PRAGMA busy_timeout").value_or(0), 0);
  EXPECT_EQ(db->QueryInt64("PRAGMA journal_size_limit").value_or(0), 64 << 20);

  DatabaseOptions normal;
  normal.synchronous = Synchronous::kNormal;
  std::unique_ptr<Database> second = Open(normal);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->QueryInt64("PRAGMA synchronous").value_or(-1), 1);  // NORMAL
}

TEST_F(DatabaseTest, BindAndReadValues) {
  std::unique_ptr<Database> db = Open();
  ASSERT_TRUE(db->Execute("CREATE TABLE t (i INTEGER, d REAL, s TEXT, tm REAL)").ok());
  const absl::Time when = absl::FromUnixMicros(1'700'000'000'123'456);
  constexpr char kInsert[] = "INSERT INTO t (i, d, s, tm) VALUES (?, ?, ?, ?)";
  for (double d : {1.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    absl::StatusOr<ScopedStatement> stmt = db->Cached(kInsert);
    ASSERT_TRUE(stmt.ok());
    (*stmt)->BindInt64(1, int64_t{1} << 53);
    (*stmt)->BindDouble(2, d);
    (*stmt)->BindText(3, std::string("a\0b", 3));
    (*stmt)->BindTime(4, when);
    ASSERT_TRUE((*stmt)->Run().ok());
  }
  absl::StatusOr<ScopedStatement> stmt = db->Cached("SELECT i, d, s, tm FROM t ORDER BY rowid");
  ASSERT_TRUE(stmt.ok());
  ASSERT_TRUE((*stmt)->Step().value_or(false));
  EXPECT_EQ((*stmt)->ColumnInt64(0), int64_t{1} << 53);
  EXPECT_EQ((*stmt)->ColumnDouble(1), 1.5);
  EXPECT_EQ((*stmt)->ColumnText(2), std::string("a\0b", 3));
  EXPECT_EQ((*stmt)->ColumnTime(3), when);
  ASSERT_TRUE((*stmt)->Step().value_or(false));
  EXPECT_TRUE((*stmt)->ColumnIsNull(1));  // NaN is stored as NULL
  ASSERT_TRUE((*stmt)->Step().value_or(false));
  EXPECT_EQ((*stmt)->ColumnDouble(1), std::numeric_limits<double>::infinity());
  EXPECT_FALSE((*stmt)->Step().value_or(true));
}

TEST_F(DatabaseTest, ErrorsMapToStatusCodes) {
  std::unique_ptr<Database> db = Open();
  ASSERT_TRUE(db->Execute("CREATE TABLE p (id INTEGER PRIMARY KEY);"
                          "CREATE TABLE c (p INTEGER NOT NULL REFERENCES p (id), "
                          "u TEXT UNIQUE)")
                  .ok());
  ASSERT_TRUE(db->Execute("INSERT INTO p (id) VALUES (1); INSERT INTO c VALUES (1, 'x')").ok());
  EXPECT_EQ(db->Execute("INSERT INTO c VALUES (1, 'x')").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(db->Execute("INSERT INTO c VALUES (2, 'y')").code(),  // foreign key
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(db->Execute("SELEKT 1").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(db->Cached("SELECT nope FROM p").status().code(), absl::StatusCode::kInternal);
  // None of these leave the connection unusable.
  EXPECT_TRUE(db->TakeFatalError().ok());

  DatabaseOptions read_only;
  read_only.read_only = true;
  std::unique_ptr<Database> reader = Open(read_only);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->QueryInt64("SELECT COUNT(*) FROM c").value_or(-1), 1);
  EXPECT_EQ(reader->Execute("INSERT INTO p (id) VALUES (2)").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_FALSE(reader->TakeFatalError().ok());
  EXPECT_TRUE(reader->TakeFatalError().ok());  // taken once
}

TEST_F(DatabaseTest, FullDatabaseIsUnavailable) {
  DatabaseOptions options;
  options.max_page_count = 8;
  std::unique_ptr<Database> db = Open(options);
  ASSERT_TRUE(db->Execute("CREATE TABLE t (b BLOB)").ok());
  absl::Status s = db->Execute("INSERT INTO t VALUES (zeroblob(1000000))");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_FALSE(db->TakeFatalError().ok());
}

TEST_F(DatabaseTest, NotADatabase) {
  { std::ofstream(path_) << std::string(8192, 'x'); }
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open({.path = path_});
  EXPECT_EQ(db.status().code(), absl::StatusCode::kInternal) << db.status();
  EXPECT_EQ(Database::Open({.path = ""}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Database::Open({.path = dir_.File("missing/dir/x.db")}).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace switchyard::server::sqlite
