# Turns migrations/NNNN_name.sql into a C++ source with the array that
# EmbeddedMigrations() returns. Run as a build step:
#   cmake -DMIGRATIONS_DIR=<dir> -DOUTPUT=<file.cc> -P embed_migrations.cmake
# Fails the build on a badly named file, a gap in the numbering, or SQL that
# contains the raw-string delimiter.
if(NOT MIGRATIONS_DIR OR NOT OUTPUT)
  message(FATAL_ERROR "embed_migrations.cmake needs MIGRATIONS_DIR and OUTPUT")
endif()

file(GLOB files RELATIVE "${MIGRATIONS_DIR}" "${MIGRATIONS_DIR}/*.sql")
list(SORT files COMPARE NATURAL)

set(entries "")
set(expected 1)
foreach(file IN LISTS files)
  if(NOT file MATCHES "^([0-9]+)_([a-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "migration ${file}: expected NNNN_lower_case_name.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")  # drops the leading zeros
  if(NOT version EQUAL expected)
    message(FATAL_ERROR "migration ${file}: number ${version}, expected ${expected} (no gaps, no repeats)")
  endif()
  math(EXPR expected "${expected} + 1")
  file(READ "${MIGRATIONS_DIR}/${file}" sql)
  string(FIND "${sql}" ")sql\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "migration ${file} contains the delimiter )sql\"")
  endif()
  string(APPEND entries "    {${version}, \"${file}\", R\"sql(${sql})sql\"},\n")
endforeach()
if(entries STREQUAL "")
  message(FATAL_ERROR "no migrations in ${MIGRATIONS_DIR}")
endif()

set(content "// Generated from migrations/*.sql by server/store/embed_migrations.cmake. Do not edit.
#include \"server/store/migrations.h\"

namespace switchyard::server {
namespace {
constexpr Migration kMigrations[] = {
${entries}};
}  // namespace

absl::Span<const Migration> EmbeddedMigrations() { return absl::MakeConstSpan(kMigrations); }

}  // namespace switchyard::server
")
# Rewrite only on change, so an unrelated reconfigure rebuilds nothing.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
