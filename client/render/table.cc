#include "client/render/table.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/config/job_config.h"

namespace switchyard::client {
namespace {

bool IsNumeric(const Cell& cell) {
  return std::holds_alternative<int64_t>(cell) || std::holds_alternative<double>(cell);
}

std::string TextCell(const Cell& cell, const Column& column) {
  if (std::holds_alternative<std::monostate>(cell)) return "-";
  if (const auto* i = std::get_if<int64_t>(&cell)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&cell)) {
    if (!std::isfinite(*d)) return "-";
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.*f", column.precision, *d);
    return buffer;
  }
  std::string text = std::get<std::string>(cell);
  // One line per row: a newline inside a cause would break the columns.
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (column.max_width > 3 && text.size() > column.max_width) {
    text = text.substr(0, column.max_width - 3) + "...";
  }
  return text;
}

std::string FullCell(const Cell& cell) {
  if (std::holds_alternative<std::monostate>(cell)) return "";
  if (const auto* i = std::get_if<int64_t>(&cell)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&cell))
    return std::isfinite(*d) ? ShortestDouble(*d) : "";
  return std::get<std::string>(cell);
}

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  if (text == "csv") return OutputFormat::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("--output: unknown format '", text, "'; expected table, json or csv"));
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::AddRow(std::vector<Cell> row) {
  row.resize(columns_.size());
  rows_.push_back(std::move(row));
}

std::string Table::Render(OutputFormat format) const {
  std::string out;
  switch (format) {
    case OutputFormat::kTable: {
      std::vector<std::vector<std::string>> text(rows_.size());
      std::vector<size_t> width(columns_.size());
      std::vector<bool> numeric(columns_.size(), !rows_.empty());
      for (size_t c = 0; c < columns_.size(); ++c) width[c] = columns_[c].name.size();
      for (size_t r = 0; r < rows_.size(); ++r) {
        for (size_t c = 0; c < columns_.size(); ++c) {
          text[r].push_back(TextCell(rows_[r][c], columns_[c]));
          width[c] = std::max(width[c], text[r][c].size());
          if (!IsNumeric(rows_[r][c]) && !std::holds_alternative<std::monostate>(rows_[r][c])) {
            numeric[c] = false;
          }
        }
      }
      auto append_line = [&](const std::vector<std::string>& cells) {
        std::string line;
        for (size_t c = 0; c < cells.size(); ++c) {
          if (c > 0) line += "  ";
          std::string pad(width[c] - cells[c].size(), ' ');
          // Numbers align right so their points line up; the last text
          // column gets no trailing spaces.
          if (numeric[c]) {
            line += pad + cells[c];
          } else {
            line += cells[c];
            if (c + 1 < cells.size()) line += pad;
          }
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
      };
      std::vector<std::string> header;
      for (const Column& column : columns_) header.push_back(column.name);
      append_line(header);
      for (const auto& row : text) append_line(row);
      return out;
    }
    case OutputFormat::kJson: {
      nlohmann::ordered_json array = nlohmann::ordered_json::array();
      for (const auto& row : rows_) {
        nlohmann::ordered_json object = nlohmann::ordered_json::object();
        for (size_t c = 0; c < columns_.size(); ++c) {
          const Cell& cell = row[c];
          const std::string& key = columns_[c].name;
          if (const auto* i = std::get_if<int64_t>(&cell)) {
            object[key] = *i;
          } else if (const auto* d = std::get_if<double>(&cell)) {
            object[key] = std::isfinite(*d) ? nlohmann::ordered_json(*d) : nlohmann::ordered_json();
          } else if (const auto* s = std::get_if<std::string>(&cell)) {
            object[key] = *s;
          } else {
            object[key] = nullptr;
          }
        }
        array.push_back(std::move(object));
      }
      // Invalid UTF-8 in a server's text (a stderr tail) must not abort.
      return array.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
    case OutputFormat::kCsv: {
      for (size_t c = 0; c < columns_.size(); ++c) {
        out += (c > 0 ? "," : "") + CsvField(columns_[c].name);
      }
      out += "\n";
      for (const auto& row : rows_) {
        for (size_t c = 0; c < columns_.size(); ++c) {
          out += (c > 0 ? "," : "") + CsvField(FullCell(row[c]));
        }
        out += "\n";
      }
      return out;
    }
  }
  return out;
}

std::string ShortestDouble(double value) {
  // std::to_chars, as the job config writes numbers: the shortest text that
  // reads back, in fixed notation where that is shortest ("10", not the
  // "1e+01" of %.1g).
  return config::ValueToString(value);
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace switchyard::client
