#pragma once
// Partitioned topics as pure decisions, the same in every member and every process:
// - which partition a key's messages go to (the server's own partition() mapping), and
// - which member owns each partition, computed from the live member set alone, so members
//   that see the same set agree without talking to each other;
// - the lease timeline: when to renew, when an owner must stop (the fence), how long a pull
//   may live so it ends before the fence.
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace corobus::detail {

// FNV-1a 32 of the key, modulo `partitions`: what nats-server 2.9's `partition(n, token)`
// subject mapping computes, so a server mapping partitions publishers that are not corobus.
int partition_of(std::string_view key, int partitions) noexcept;

// The owner of each partition (owners[p]), from any order of `members` (duplicates count
// once); empty names when there are no members. Rendezvous hashing with bounded load: each
// partition goes to the member that ranks it highest among those holding fewer than
// ceil(partitions / members), so no member holds more than that and a join or a leave moves
// few partitions (1.16 times the partitions / members a join must move, measured in the
// decisions suite).
std::vector<std::string> assign_partitions(int partitions, std::vector<std::string> members);

// The partitions `member` owns in `owners`.
std::vector<int> owned_by(const std::vector<std::string>& owners, std::string_view member);

// One lease's timeline, from its TTL (the key-value bucket's max age).
struct lease_timing {
  lease_timing(std::chrono::milliseconds ttl, std::chrono::milliseconds configured_pull_expires) noexcept;

  std::chrono::milliseconds ttl;
  // Renewed this often: two renewals fit before the fence, so one slow one costs nothing.
  std::chrono::milliseconds renew_every;
  // The owner stops this long after it *sent* its last successful renewal, on its monotonic
  // clock: a third of the TTL before the server can let the lease expire.
  std::chrono::milliseconds fence_after;
  // Each pull request's life: shorter than the margin, so no request outlives the fence.
  std::chrono::milliseconds pull_expires;
};

// What a member does at a look: acquire what it wants and does not hold; revoke what it holds
// and no longer wants (draining ones are on their way out already).
struct ownership_moves {
  std::vector<int> acquire;
  std::vector<int> revoke;
};
ownership_moves plan_moves(const std::vector<int>& wanted, const std::vector<int>& held,
                           const std::vector<int>& draining);

}  // namespace corobus::detail
