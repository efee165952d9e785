#pragma once
// Which member of a group takes a message: the same ordering key (incoming_message.hpp) always
// goes to the same member, so its order holds; messages without one go round robin. A group's
// members are all envelope subscribers or all raw ones (a mixed group orders as its first).
#include <corobus/runtime/stable_hash.hpp>
#include "core/incoming_message.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corobus::detail {

template <class Member>
const Member& pick_member(const std::vector<Member>& members, const incoming_message& in,
                          std::atomic<std::size_t>& round_robin) {
  if (members.size() == 1) return members.front();
  std::string scratch;
  const auto key = ordering_key(in, members.front()->wants_envelopes(), scratch);
  if (key.empty()) return members[round_robin.fetch_add(1, std::memory_order_relaxed) % members.size()];
  // Mixed, so that the member choice does not correlate with the lane choice (hash % lanes).
  const auto mixed = (std::uint64_t{stable_hash(key)} * 0x9E3779B97F4A7C15ull) >> 40;
  return members[mixed % members.size()];
}

}  // namespace corobus::detail
