#include "envelope/raw_member.hpp"

#include <boost/json/parse.hpp>

#include <cstring>

namespace corobus::detail {
namespace {

// A cursor over valid JSON: each step assumes well-formed input.
struct cursor {
  std::string_view s;
  std::size_t i = 0;

  void skip_space() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  // At a '"': moves past the closing quote, returns the text between the quotes. memchr
  // finds each candidate quote; one preceded by an odd number of backslashes is escaped.
  std::string_view string() {
    const auto start = ++i;
    for (;;) {
      i = static_cast<const char*>(std::memchr(s.data() + i, '"', s.size() - i)) - s.data();
      std::size_t backslashes = 0;
      while (i - backslashes > start && s[i - backslashes - 1] == '\\') ++backslashes;
      if (backslashes % 2 == 0) break;
      ++i;
    }
    return s.substr(start, i++ - start);
  }
  // Moves past one value of any kind.
  void value() {
    if (s[i] == '"') {
      string();
      return;
    }
    if (s[i] == '{' || s[i] == '[') {
      int depth = 0;
      do {
        if (s[i] == '"') {
          string();
          continue;
        }
        if (s[i] == '{' || s[i] == '[') ++depth;
        if (s[i] == '}' || s[i] == ']') --depth;
        ++i;
      } while (depth > 0);
      return;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
           s[i] != '\r')
      ++i;  // number, true, false, null
  }
};

// A key as written (between its quotes) against an unescaped name.
bool key_is(std::string_view written, std::string_view key) {
  if (written.find('\\') == std::string_view::npos) return written == key;
  const std::string quoted = '"' + std::string(written) + '"';  // rare: a key with escapes
  return boost::json::parse(quoted).as_string() == key;
}

}  // namespace

std::optional<std::string_view> raw_member(std::string_view document, std::string_view key) {
  cursor c{document};
  c.skip_space();
  if (c.i >= document.size() || document[c.i] != '{') return std::nullopt;
  ++c.i;
  std::optional<std::string_view> found;
  for (;;) {
    c.skip_space();
    if (document[c.i] == '}') return found;
    const auto name = c.string();
    c.skip_space();
    ++c.i;                   // ':'
    const auto start = c.i;  // the value's text, with the white space around it
    c.skip_space();
    c.value();
    c.skip_space();
    if (key_is(name, key)) found = document.substr(start, c.i - start);
    if (document[c.i] == ',') ++c.i;
  }
}

}  // namespace corobus::detail
