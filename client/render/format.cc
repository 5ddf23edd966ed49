#include "client/render/format.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace switchyard::client {

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  long long s = std::llround(seconds);
  char buffer[64];
  if (s < 60) {
    std::snprintf(buffer, sizeof(buffer), "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buffer, sizeof(buffer), "%lldm%02llds", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buffer, sizeof(buffer), "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
  }
  return buffer;
}

std::string FormatTime(double unix_seconds) {
  if (!(unix_seconds > 0) || !std::isfinite(unix_seconds)) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

std::string FirstLine(const std::string& text, size_t max_chars) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return "";
  size_t end = text.find_first_of("\r\n", start);
  std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  bool more =
      end != std::string::npos && text.find_first_not_of(" \t\r\n", end) != std::string::npos;
  if (line.size() > max_chars && max_chars > 3) {
    line = line.substr(0, max_chars - 3) + "...";
  } else if (more) {
    line += " ...";
  }
  return line;
}

}  // namespace switchyard::client
