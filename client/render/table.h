// Tables for the CLI's listings, rendered as aligned text, JSON or CSV.
//
// A table is a list of named columns and rows of typed cells. The three
// renderings carry the same rows:
//   kTable: aligned columns for people; numbers with `precision` digits after
//           the point, "-" for an empty cell; text cells longer than a
//           column's max_width are cut with "...".
//   kJson:  an array of objects, one per row, keys = column names; numbers as
//           JSON numbers at full precision, empty cells as null.
//   kCsv:   RFC 4180, a header row, numbers at full precision (shortest form
//           that reads back to the same double), empty cells empty.
//
// Thread safety: a Table is a plain value.
#ifndef SWITCHYARD_CLIENT_RENDER_TABLE_H_
#define SWITCHYARD_CLIENT_RENDER_TABLE_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace switchyard::client {

enum class OutputFormat { kTable, kJson, kCsv };
// "table", "json" or "csv"; INVALID_ARGUMENT naming --output otherwise.
absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& text);

// An empty cell, an integer, a number or text.
using Cell = std::variant<std::monostate, int64_t, double, std::string>;

struct Column {
  std::string name;
  int precision = 4;     // kTable: digits after the point for doubles
  size_t max_width = 0;  // kTable: cut longer text (0 = never)
};

class Table {
 public:
  explicit Table(std::vector<Column> columns);

  // Requires row.size() == the number of columns.
  void AddRow(std::vector<Cell> row);

  size_t row_count() const { return rows_.size(); }
  const std::vector<Column>& columns() const { return columns_; }
  const std::vector<std::vector<Cell>>& rows() const { return rows_; }

  // The whole table, ending in a newline (kTable with no rows: the header
  // only; kJson: "[]\n").
  std::string Render(OutputFormat format) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

// The shortest decimal form that reads back to the same double ("0.1", not
// "0.10000000000000001"); "nan"/"inf" are never produced by callers.
std::string ShortestDouble(double value);

// One CSV field, quoted when it holds a comma, quote, CR or LF.
std::string CsvField(const std::string& text);

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_RENDER_TABLE_H_
