#pragma once
// Which member of a group takes a message: a key always goes to the same member (so its order
// holds), keyless messages go round robin.
#include <corobus/runtime/stable_hash.hpp>

#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

namespace corobus::detail {

template <class Member>
const Member& pick_member(const std::vector<Member>& members, std::string_view key,
                          std::atomic<std::size_t>& round_robin) {
  if (members.size() == 1) return members.front();
  if (key.empty()) return members[round_robin.fetch_add(1, std::memory_order_relaxed) % members.size()];
  // Mixed, so that the member choice does not correlate with the lane choice (hash % lanes).
  const auto mixed = (std::uint64_t{stable_hash(key)} * 0x9E3779B97F4A7C15ull) >> 40;
  return members[mixed % members.size()];
}

}  // namespace corobus::detail
