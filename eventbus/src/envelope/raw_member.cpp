#include "envelope/raw_member.hpp"

#include <boost/json/parse.hpp>

#include <cstring>

namespace corobus::detail {
namespace {

// A cursor over JSON text. Valid or not, it never reads past the end: each step says whether
// the text went on long enough for it.
struct cursor {
  std::string_view s;
  std::size_t i = 0;

  bool more() const { return i < s.size(); }
  bool at(char c) const { return more() && s[i] == c; }
  void skip_space() {
    while (more() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  // At a '"': moves past the closing quote, returns the text between the quotes; nothing when
  // the string never closes. memchr finds each candidate quote; one preceded by an odd number
  // of backslashes is escaped.
  std::optional<std::string_view> string() {
    const auto start = ++i;
    for (;;) {
      const void* quote = i < s.size() ? std::memchr(s.data() + i, '"', s.size() - i) : nullptr;
      if (!quote) return std::nullopt;
      i = static_cast<const char*>(quote) - s.data();
      std::size_t backslashes = 0;
      while (i - backslashes > start && s[i - backslashes - 1] == '\\') ++backslashes;
      if (backslashes % 2 == 0) break;
      ++i;
    }
    return s.substr(start, i++ - start);
  }
  // Moves past one value of any kind; false when the text ends inside it.
  bool value() {
    if (!more()) return false;
    if (s[i] == '"') return string().has_value();
    if (s[i] == '{' || s[i] == '[') {
      int depth = 0;
      do {
        if (!more()) return false;
        if (s[i] == '"') {
          if (!string()) return false;
          continue;
        }
        if (s[i] == '{' || s[i] == '[') ++depth;
        if (s[i] == '}' || s[i] == ']') --depth;
        ++i;
      } while (depth > 0);
      return true;
    }
    const auto start = i;
    while (more() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
           s[i] != '\r')
      ++i;  // number, true, false, null
    return i > start;
  }
};

// The text between a string's quotes, unescaped; nothing when the escapes are not JSON's.
std::optional<std::string> unescaped(std::string_view written) {
  const std::string quoted = '"' + std::string(written) + '"';
  boost::system::error_code ec;
  const auto value = boost::json::parse(quoted, ec);
  if (ec || !value.is_string()) return std::nullopt;
  return std::string(value.as_string());
}

// A key as written (between its quotes) against an unescaped name.
bool key_is(std::string_view written, std::string_view key) {
  if (written.find('\\') == std::string_view::npos) return written == key;
  return unescaped(written) == key;  // rare: a key with escapes
}

}  // namespace

std::optional<std::string_view> raw_member(std::string_view document, std::string_view key) {
  cursor c{document};
  c.skip_space();
  if (!c.at('{')) return std::nullopt;
  ++c.i;
  std::optional<std::string_view> found;
  for (;;) {
    c.skip_space();
    if (c.at('}')) return found;
    if (!c.at('"')) return std::nullopt;
    const auto name = c.string();
    c.skip_space();
    if (!name || !c.at(':')) return std::nullopt;
    ++c.i;
    const auto start = c.i;  // the value's text, with the white space around it
    c.skip_space();
    if (!c.value()) return std::nullopt;
    c.skip_space();
    if (key_is(*name, key)) found = document.substr(start, c.i - start);
    if (c.at(','))
      ++c.i;
    else if (!c.at('}'))
      return std::nullopt;
  }
}

std::optional<std::string_view> aggregate_id_of(std::string_view text, std::string& scratch) {
  auto value = raw_member(text, "aggregate_id");
  if (!value) return std::nullopt;
  cursor c{*value};
  c.skip_space();
  if (!c.at('"')) return std::nullopt;
  const auto written = c.string();
  if (!written) return std::nullopt;
  if (written->find('\\') == std::string_view::npos) return written;
  auto id = unescaped(*written);  // rare: "\/" and the like
  if (!id) return std::nullopt;
  scratch = std::move(*id);
  return std::string_view(scratch);
}

}  // namespace corobus::detail
