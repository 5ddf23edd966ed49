// Small text formats shared by the listings and the watch view.
//
// Thread safety: pure functions.
#ifndef SWITCHYARD_CLIENT_RENDER_FORMAT_H_
#define SWITCHYARD_CLIENT_RENDER_FORMAT_H_

#include <string>

namespace switchyard::client {

// A duration for people: "42s", "3m05s", "2h07m", "3d04h"; "-" when negative
// or not finite.
std::string FormatDuration(double seconds);

// A unix time as UTC "2026-11-24 17:03:09"; "-" for 0 (not set).
std::string FormatTime(double unix_seconds);

// The first line of `text`, cut to `max_chars` characters with "..." (for
// causes that hold a whole stderr tail).
std::string FirstLine(const std::string& text, size_t max_chars);

}  // namespace switchyard::client

#endif  // SWITCHYARD_CLIENT_RENDER_FORMAT_H_
