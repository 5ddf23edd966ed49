// A minimal logging shim (Debian's Abseil has no absl/log): one line per
// event on stderr, "2026-11-24T17:00:00.123Z I component: message".
// Thread-safe: each line is written with one call under a mutex.
#ifndef SWITCHYARD_COMMON_BASE_LOG_H_
#define SWITCHYARD_COMMON_BASE_LOG_H_

#include <sstream>
#include <string>

namespace switchyard::common {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below this level are dropped. Default kInfo; SWITCHYARD_LOG_LEVEL=debug
// in the environment lowers it at start-up.
void SetMinLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void WriteLogLine(LogLevel level, const std::string& message);

class LogMessage {
 public:
  explicit LogMessage(LogLevel level) : level_(level) {}
  ~LogMessage() { WriteLogLine(level_, stream_.str()); }
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace switchyard::common

#define SY_LOG(level)                                                              \
  if (!::switchyard::common::LogEnabled(::switchyard::common::LogLevel::k##level)) \
    ;                                                                              \
  else                                                                             \
    ::switchyard::common::LogMessage(::switchyard::common::LogLevel::k##level).stream()

#endif  // SWITCHYARD_COMMON_BASE_LOG_H_
