// UTF-8 validation for text that will travel in protobuf string fields
// (which refuse invalid UTF-8 deep in gRPC, with a message that names
// neither the field nor the file).
#ifndef SWITCHYARD_COMMON_BASE_UTF8_H_
#define SWITCHYARD_COMMON_BASE_UTF8_H_

#include <cstddef>
#include <optional>
#include <string_view>

namespace switchyard::common {

// The byte offset of the first byte that does not start a well-formed UTF-8
// sequence (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF, no truncated sequence), or std::nullopt when all of `text` is.
std::optional<size_t> FirstInvalidUtf8(std::string_view text);

}  // namespace switchyard::common

#endif  // SWITCHYARD_COMMON_BASE_UTF8_H_
