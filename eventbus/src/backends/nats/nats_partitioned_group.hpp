#pragma once
// A group on a partitioned topic, as one member (one bus) of it, in any number of processes.
// nats-server 2.9 has no pinned consumers, no multiple filters and no stream transforms, so
// ownership is kept in a key-value bucket of the group (`corobus-group-<group>`, entries
// living nats.lease_ttl):
//
// - Membership: the key `<stream>.m.<member>`, written at every look while this bus has
//   subscriptions in the group. Every member computes the same owners from the live members
//   (assign_partitions).
// - Ownership: the lease `<stream>.p.<p>` holds its owner's name. Taken by compare-and-set
//   (missing, aged out, or released), renewed by compare-and-set on its revision every
//   renew_every; a refused renewal means it was lost. Released by writing "-" after the
//   partition drained (not deleted: the next owner must tell a drained partition from an
//   expired lease, which 2.9 cannot through a deleted key).
// - Each owned partition has its durable pull consumer (`<group>_p<p>`, filtered to the
//   partition's subject) and its window of max_in_flight / partitions.
// - Fencing: an owner stops handling, pulling and acknowledging once its monotonic clock
//   passes fence_after since it sent its last successful renewal, before the server can let
//   the lease expire; pulls expire sooner than that margin. What it held then comes back to
//   the next owner one ack wait after the fence: so a partition taken over from an expired
//   lease (not released) settles first (nats_group_consumer::settle: with messages still
//   pending it waits one ack wait before it pulls), and the redeliveries come before newer
//   messages, in order.
// - A revoked partition drains like a Kafka revoke: queued messages dropped, running handlers
//   get nats.revoke_timeout and are then cancelled, the pulls drain, everything not handled is
//   given back (-NAK) in stream order, then the lease is released.
// - 2.9 gives no watch event when an entry ages out, so members look again on a timer
//   (renew_every, with jitter); subscribing or unsubscribing here looks at once.
//
// The decisions are pure (lease_state.hpp, partition_assignment.hpp, revoke_sequence.hpp);
// this class carries them out, on the connection's strand; the blocking key-value calls run
// on the backend's blocking pool.
#include <corobus/awaitables/nats/jetstream_admin.hpp>
#include <corobus/awaitables/nats/kv_bucket.hpp>
#include <corobus/eventbus/config.hpp>
#include <corobus/runtime/blocking_pool.hpp>
#include <corobus/runtime/task_scope.hpp>
#include "backends/nats/lease_state.hpp"
#include "backends/nats/nats_group_consumer.hpp"
#include "core/backend.hpp"
#include "core/group_routes.hpp"

#include <map>
#include <memory>
#include <string>

namespace corobus::detail {

// What a partitioned group needs of its backend: what its consumers do, and where its
// tasks run.
struct partitioned_group_context : consumer_context {
  task_scope& tasks;  // the backend's consumer tasks
};

class nats_partitioned_group {
 public:
  nats_partitioned_group(partitioned_group_context context, std::shared_ptr<group_routes> routes,
                         std::unique_ptr<nats::kv_bucket> bucket, std::string topic, std::string group,
                         std::string member);
  ~nats_partitioned_group();

  // The membership and lease task, on the strand, until cancelled.
  asio::awaitable<void> coordinate();
  // Any thread: subscriptions here changed; look now.
  void wake();
  // On the strand: the server forgot the pulls.
  void reconnected();
  // close(), on the strand, once the tasks ended: the pulls drain (nothing is lost in flight).
  asio::awaitable<void> drain_pulls();
  // close(), on the strand, once the handlers ended: what is not handled is given back in order.
  void give_back();
  // close(), blocking (not on an io thread), after give_back(): the leases are released and
  // the member leaves, so the others take over at once.
  void leave();
  void disconnect() noexcept;

 private:
  struct partition_run;
  using run_ptr = std::shared_ptr<partition_run>;

  std::string lease_key(int partition) const;
  std::string member_key() const;
  pull_target target(int partition) const;
  // One round of the membership and lease protocol: renews, then abandons, revokes, releases
  // and takes what the lease state decides; true when partitions are left to take, the
  // leases held needing their renewal first.
  asio::awaitable<bool> review_leases();
  asio::awaitable<void> take(int partition);
  asio::awaitable<void> release(lease_state::lease lease, std::size_t given_back);
  static asio::awaitable<void> keep_alive(run_ptr run);
  // A partition's life here, from its lease to its release.
  asio::awaitable<void> run_partition(run_ptr run);
  asio::awaitable<void> finish_revoke(run_ptr run);
  void abandon(int partition, std::string_view why);

  partitioned_group_context ctx_;
  std::shared_ptr<group_routes> routes_;
  std::unique_ptr<nats::kv_bucket> bucket_;  // used on ctx_.blocking only
  const std::string topic_;
  const std::string stream_;
  const std::string group_;
  const std::string log_name_;
  const lease_timing timing_;
  const std::size_t window_;
  asio::steady_timer next_review_;
  lease_state leases_;              // on the strand
  std::map<int, run_ptr> running_;  // each owned partition's run, on the strand
  // wake() posts to the strand; the group may be gone by then.
  std::shared_ptr<int> lifetime_ = std::make_shared<int>();
};

}  // namespace corobus::detail
