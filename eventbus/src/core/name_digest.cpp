#include "core/name_digest.hpp"

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid.hpp>

namespace corobus::detail {

std::string name_digest(std::string_view name) {
  // The namespace of corobus's names (a fixed, random UUID).
  static constexpr boost::uuids::uuid names = {
      {0x3c, 0x1e, 0x8f, 0x52, 0x6a, 0x0b, 0x4d, 0x7e, 0x9b, 0x21, 0x55, 0xc4, 0x0f, 0x93, 0xa8, 0x6d}};
  const auto id = boost::uuids::name_generator_sha1(names)(name.data(), name.size());
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  out.reserve(name_digest_length);
  unsigned bits = 0, buffer = 0;
  for (const auto byte : id) {
    buffer = (buffer << 8) | byte;
    for (bits += 8; bits >= 5; bits -= 5) out += alphabet[(buffer >> (bits - 5)) & 31];
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];  // the last 3 of 128 bits
  return out;
}

}  // namespace corobus::detail
