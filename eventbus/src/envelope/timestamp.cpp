#include "envelope/timestamp.hpp"

#include <cstdint>
#include <type_traits>

namespace corobus::detail {
namespace {

using clock = std::chrono::system_clock;
// The arithmetic below is written for this representation; another would need other bounds.
static_assert(std::is_same_v<clock::rep, std::int64_t> && std::is_same_v<clock::period, std::nano>,
              "system_clock is expected to count nanoseconds in 64 bits");

constexpr std::int64_t ns_per_second = 1'000'000'000;
constexpr std::int64_t seconds_per_day = 86'400;

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {  // b > 0
  const std::int64_t q = a / b;
  return q - (a % b < 0 ? 1 : 0);
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms).
// For the years 0000-9999 a text can name, every intermediate is far inside 64 bits.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = floor_div(y, 400);
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil_date {
  std::int64_t year;
  unsigned month, day;
};

constexpr civil_date civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = floor_div(z, 146097);
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
  return m == 2 && leap ? 29 : days[m - 1];
}

// Writes `v` (>= 0) as exactly `width` digits ending before `end`.
void put_digits(char* end, std::int64_t v, int width) {
  for (int i = 0; i < width; ++i, v /= 10) *--end = static_cast<char>('0' + v % 10);
}

// Reads exactly `width` digits at `pos`.
bool read_digits(std::string_view s, std::size_t& pos, std::size_t width, int& out) {
  if (s.size() - pos < width) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  pos += width;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

constexpr std::string_view not_rfc3339 = "is not of the form YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)";
constexpr std::string_view out_of_range =
    "is outside the range an envelope's time can hold "
    "(1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z)";

}  // namespace

std::array<char, rfc3339_length> rfc3339_chars(clock::time_point tp) {
  // Floor division keeps every part non-negative before 1970. The fraction is taken as a
  // remainder, not as ns - seconds * 1e9: for the earliest time point that product is below
  // the 64-bit minimum. Past that, the seconds of any time point are within +-9.3e9.
  const std::int64_t ns = tp.time_since_epoch().count();
  const std::int64_t seconds = floor_div(ns, ns_per_second);
  const std::int64_t fraction = ns % ns_per_second < 0 ? ns % ns_per_second + ns_per_second : ns % ns_per_second;
  const std::int64_t days = floor_div(seconds, seconds_per_day);
  const std::int64_t of_day = seconds - days * seconds_per_day;
  const auto date = civil_from_days(days);
  std::array<char, rfc3339_length> out{};
  char* p = out.data();
  put_digits(p + 4, date.year, 4);  // 1677..2262
  p[4] = '-';
  put_digits(p + 7, date.month, 2);
  p[7] = '-';
  put_digits(p + 10, date.day, 2);
  p[10] = 'T';
  put_digits(p + 13, of_day / 3600, 2);
  p[13] = ':';
  put_digits(p + 16, of_day / 60 % 60, 2);
  p[16] = ':';
  put_digits(p + 19, of_day % 60, 2);
  p[19] = '.';
  put_digits(p + 29, fraction, 9);
  p[29] = 'Z';
  return out;
}

std::string format_rfc3339(clock::time_point tp) {
  const auto chars = rfc3339_chars(tp);
  return std::string(chars.data(), chars.size());
}

std::optional<clock::time_point> parse_rfc3339(std::string_view s, std::string_view* problem) {
  const auto fail = [&](std::string_view why) -> std::optional<clock::time_point> {
    if (problem) *problem = why;
    return std::nullopt;
  };
  std::size_t pos = 0;
  int y, mo, d, h, mi, sec;
  if (!read_digits(s, pos, 4, y) || !expect(s, pos, '-') || !read_digits(s, pos, 2, mo) || !expect(s, pos, '-') ||
      !read_digits(s, pos, 2, d))
    return fail(not_rfc3339);
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return fail(not_rfc3339);
  ++pos;
  if (!read_digits(s, pos, 2, h) || !expect(s, pos, ':') || !read_digits(s, pos, 2, mi) || !expect(s, pos, ':') ||
      !read_digits(s, pos, 2, sec))
    return fail(not_rfc3339);
  std::int64_t fraction = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++digits)
      if (digits < 9) fraction = fraction * 10 + (s[pos] - '0');
    if (digits == 0) return fail(not_rfc3339);
    if (digits > 9) return fail("has a fraction of more than 9 digits (nanoseconds are the finest it holds)");
    for (; digits < 9; ++digits) fraction *= 10;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!read_digits(s, pos, 2, oh) || !expect(s, pos, ':') || !read_digits(s, pos, 2, om)) return fail(not_rfc3339);
    if (oh > 23) return fail("has an offset hour out of range (00-23)");
    if (om > 59) return fail("has an offset minute out of range (00-59)");
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return fail(not_rfc3339);
  }
  if (pos != s.size()) return fail(not_rfc3339);
  if (mo < 1 || mo > 12) return fail("has a month out of range (01-12)");
  if (d < 1 || static_cast<unsigned>(d) > days_in_month(y, static_cast<unsigned>(mo)))
    return fail("has a day out of range for its month");
  if (h > 23) return fail("has an hour out of range (00-23)");
  if (mi > 59) return fail("has a minute out of range (00-59)");
  if (sec > 59) return fail("has a second out of range (00-59; leap seconds are not accepted)");

  // Years 0000-9999 keep the seconds within +-3.2e11; only the step to nanoseconds can overflow.
  std::int64_t seconds = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * seconds_per_day +
                         h * 3600 + mi * 60 + sec - std::int64_t{offset_minutes} * 60;
  if (seconds < 0 && fraction > 0) {
    // Borrow a second, so the earliest time point (-9223372036.854775808 s) is reached without
    // the product passing below the 64-bit minimum first.
    ++seconds;
    fraction -= ns_per_second;
  }
  std::int64_t ns;
  if (__builtin_mul_overflow(seconds, ns_per_second, &ns) || __builtin_add_overflow(ns, fraction, &ns))
    return fail(out_of_range);
  return clock::time_point(clock::duration(ns));
}

}  // namespace corobus::detail
