#pragma once
// RFC 3339 timestamps as the envelope carries them ("2025-10-29T08:15:30.123456789Z"),
// the form Go's time.Time marshals to.
//
// The envelope's time is a system_clock::time_point: a signed 64-bit count of nanoseconds
// here, which holds 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z. Both
// directions compute in checked 64-bit integers (not through <chrono>, whose arithmetic
// overflows silently at those ends), so every time point is written and read back exactly,
// and a text outside that range is refused instead of wrapping into another time.
#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace corobus::detail {

// "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ": always UTC, always nine fraction digits.
inline constexpr std::size_t rfc3339_length = 30;

std::array<char, rfc3339_length> rfc3339_chars(std::chrono::system_clock::time_point tp);
std::string format_rfc3339(std::chrono::system_clock::time_point tp);

// Reads "YYYY-MM-DD", a 'T' (or 't', or a space as RFC 3339 section 5.6 permits), "hh:mm:ss",
// an optional fraction of 1 to 9 digits, and 'Z' (or 'z') or an offset "+hh:mm"/"-hh:mm".
// Every field must be in range: month 01-12, the day within its month (leap years counted),
// hour 00-23, minute 00-59, second 00-59 (no leap second: system_clock has none, so 23:59:60
// could only become another time), offset hours 00-23 and minutes 00-59; and the time must be
// one system_clock holds. Otherwise returns nothing, and `problem` (when given) says why.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text,
                                                                   std::string_view* problem = nullptr);

}  // namespace corobus::detail
