#include "backends/nats/partition_assignment.hpp"
#include <corobus/runtime/stable_hash.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>

namespace corobus::detail {
namespace {

// A member's score for a partition: FNV-1a 64 of "member/p", finished by splitmix64 so that
// close names and numbers still spread.
std::uint64_t score(std::string_view member, int partition) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  const auto mix_in = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (unsigned char c : member) mix_in(c);
  mix_in('/');
  for (auto v = static_cast<unsigned>(partition);; v /= 10) {
    mix_in(static_cast<unsigned char>('0' + v % 10));
    if (v < 10) break;
  }
  h += 0x9E3779B97F4A7C15ull;
  h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
  h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

int partition_of(std::string_view key, int partitions) noexcept {
  return partitions <= 0 ? 0 : static_cast<int>(stable_hash(key) % static_cast<std::uint32_t>(partitions));
}

std::vector<std::string> assign_partitions(int partitions, std::vector<std::string> members) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  std::vector<std::string> owners(static_cast<std::size_t>(std::max(0, partitions)));
  if (members.empty()) return owners;
  const auto m = members.size();
  const auto cap = (owners.size() + m - 1) / m;
  std::vector<std::size_t> load(m, 0);
  std::vector<std::size_t> rank(m);
  for (int p = 0; p < partitions; ++p) {
    std::iota(rank.begin(), rank.end(), 0);
    std::sort(rank.begin(), rank.end(), [&](std::size_t a, std::size_t b) {
      const auto sa = score(members[a], p), sb = score(members[b], p);
      return sa != sb ? sa > sb : members[a] < members[b];
    });
    for (const auto i : rank)
      if (load[i] < cap) {
        ++load[i];
        owners[static_cast<std::size_t>(p)] = members[i];
        break;
      }
  }
  return owners;
}

std::vector<int> owned_by(const std::vector<std::string>& owners, std::string_view member) {
  std::vector<int> out;
  for (std::size_t p = 0; p < owners.size(); ++p)
    if (owners[p] == member) out.push_back(static_cast<int>(p));
  return out;
}

lease_timing::lease_timing(std::chrono::milliseconds t, std::chrono::milliseconds configured_pull_expires) noexcept
    : ttl(t), renew_every(t / 4), fence_after(t * 2 / 3), pull_expires(std::min(configured_pull_expires, t / 6)) {}

ownership_moves plan_moves(const std::vector<int>& wanted, const std::vector<int>& held,
                           const std::vector<int>& draining) {
  ownership_moves moves;
  for (const int p : wanted)
    if (!contains(held, p) && !contains(draining, p)) moves.acquire.push_back(p);
  for (const int p : held)
    if (!contains(wanted, p)) moves.revoke.push_back(p);
  return moves;
}

}  // namespace corobus::detail
