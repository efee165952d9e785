#pragma once
// Names and ids as error messages and log lines show them. What they echo comes from callers
// or from any producer, so a NUL must not cut the message short and a control byte must not
// reach a terminal or a log parser.
#include <cstddef>
#include <string>
#include <string_view>

namespace corobus::detail {

// `text` with printable ASCII as it is, a backslash or a single quote escaped with a
// backslash (the messages put names in single quotes), every other byte as \xNN, and cut
// after `max_bytes` bytes ("... (N bytes)"), so a hostile name cannot flood a log.
std::string printable(std::string_view text, std::size_t max_bytes = 256);

}  // namespace corobus::detail
