#pragma once
// A short, stable digest of a name, for a name that must be cut to fit a broker's limit and
// still stay one to one: 26 characters of [a-z2-7] (RFC 4648 base32, lower case) of the
// name-based UUID (SHA-1, RFC 4122 version 5) of the whole name, 122 bits of which vary. Two
// names share a digest with a chance of about 2^-122. Never change it: brokers keep the names
// made with it (dead-letter topics, JetStream streams and consumers).
#include <string>
#include <string_view>

namespace corobus::detail {

inline constexpr std::size_t name_digest_length = 26;

std::string name_digest(std::string_view name);

}  // namespace corobus::detail
