#pragma once
// UTF-8 validity, as JSON requires of every string: the envelope's string fields are written
// into its JSON as they are, so one with invalid UTF-8 would make the whole document invalid.
#include <cstddef>
#include <optional>
#include <string_view>

namespace corobus::detail {

// The offset of the first byte that does not start a well-formed UTF-8 sequence (Unicode
// table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF, no cut-off sequence),
// or nothing when all of `text` is valid. The same rule as Boost.JSON's parser.
std::optional<std::size_t> invalid_utf8_at(std::string_view text);

}  // namespace corobus::detail
