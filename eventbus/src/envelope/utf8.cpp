#include "envelope/utf8.hpp"

namespace corobus::detail {

std::optional<std::size_t> invalid_utf8_at(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The length of the sequence and the range its second byte must fall in.
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
      length = 2;
    else if (c == 0xe0)
      length = 3, low = 0xa0;
    else if (c >= 0xe1 && c <= 0xec)
      length = 3;
    else if (c == 0xed)
      length = 3, high = 0x9f;  // not the surrogates U+D800..U+DFFF
    else if (c >= 0xee && c <= 0xef)
      length = 3;
    else if (c == 0xf0)
      length = 4, low = 0x90;
    else if (c >= 0xf1 && c <= 0xf3)
      length = 4;
    else if (c == 0xf4)
      length = 4, high = 0x8f;  // nothing above U+10FFFF
    else
      return i;  // a continuation byte, an overlong lead (C0, C1) or F5..FF
    if (n - i < length || s[i + 1] < low || s[i + 1] > high) return i;
    for (std::size_t k = 2; k < length; ++k)
      if (s[i + k] < 0x80 || s[i + k] > 0xbf) return i;
    i += length;
  }
  return std::nullopt;
}

}  // namespace corobus::detail
