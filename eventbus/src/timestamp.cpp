#include <corobus/eventbus/detail/timestamp.hpp>

#include <fmt/format.h>

#include <charconv>

namespace corobus::detail {
namespace chrono = std::chrono;

std::string format_rfc3339(chrono::system_clock::time_point tp) {
  const auto ns = chrono::time_point_cast<chrono::nanoseconds>(tp);
  const auto day = chrono::floor<chrono::days>(ns);
  const chrono::year_month_day ymd{day};
  const chrono::hh_mm_ss hms{ns - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                     hms.subseconds().count());
}

namespace {

// Reads exactly `width` digits at `pos`.
bool read_number(std::string_view s, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > s.size()) return false;
  for (std::size_t i = pos; i < pos + width; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  std::from_chars(s.data() + pos, s.data() + pos + width, out);
  pos += width;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  std::size_t pos = 0;
  int y, mo, d, h, mi, sec;
  if (!read_number(s, pos, 4, y) || !expect(s, pos, '-') || !read_number(s, pos, 2, mo) ||
      !expect(s, pos, '-') || !read_number(s, pos, 2, d))
    return std::nullopt;
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!read_number(s, pos, 2, h) || !expect(s, pos, ':') || !read_number(s, pos, 2, mi) ||
      !expect(s, pos, ':') || !read_number(s, pos, 2, sec))
    return std::nullopt;
  std::int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) frac_ns = frac_ns * 10 + (s[pos] - '0'), ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) frac_ns *= 10;
  }
  chrono::minutes offset{0};
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!read_number(s, pos, 2, oh) || !expect(s, pos, ':') || !read_number(s, pos, 2, om))
      return std::nullopt;
    offset = chrono::minutes(sign * (oh * 60 + om));
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const chrono::year_month_day ymd{chrono::year{y}, chrono::month{static_cast<unsigned>(mo)},
                                   chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  return chrono::sys_days{ymd} + chrono::hours{h} + chrono::minutes{mi} + chrono::seconds{sec} +
         chrono::nanoseconds{frac_ns} - offset;
}

}  // namespace corobus::detail
