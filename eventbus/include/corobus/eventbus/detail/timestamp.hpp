#pragma once
// RFC 3339 timestamps as the envelope carries them ("2025-10-29T08:15:30.123456789Z"),
// the form Go's time.Time marshals to.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace corobus::detail {

std::string format_rfc3339(std::chrono::system_clock::time_point tp);
// Accepts a fraction of 0..9 digits and a "Z" or "+hh:mm"/"-hh:mm" offset.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace corobus::detail
