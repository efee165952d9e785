#pragma once
// One Kafka consumer for one consumer group of one bus. Every subscription of the bus in that
// group, whatever its topic, is fed by it: a subscription to a further topic updates the
// consumer's subscription, and the rebalance that follows is handled here.
//
// Two tasks run on the group's strand: fetch() hands records to the subscriptions (a record's
// partition progress travels with it, so the commit position passes it only once it is done)
// and handles rebalances; commit_periodically() commits the positions that moved.
#include <corobus/awaitables/kafka/consumer.hpp>
#include <corobus/eventbus/config.hpp>
#include <corobus/runtime/io_pool.hpp>
#include "backends/kafka/assignment_state.hpp"
#include "backends/kafka/fetch_window.hpp"
#include "backends/kafka/partition_progress.hpp"
#include "core/backend.hpp"
#include "core/group_routes.hpp"
#include "core/incoming_message.hpp"
#include "core/subscriber.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace corobus::detail {

class kafka_group_consumer {
 public:
  kafka_group_consumer(backend_context context, const kafka_config& cfg, std::string name,
                       const kafka::properties& props);
  ~kafka_group_consumer();

  const std::string& name() const noexcept { return name_; }
  const asio::strand<io_pool::executor_type>& strand() const noexcept { return strand_; }

  // Routes the subscription's topic to `sub` as well; a topic new to the group is added to
  // the consumer's subscription.
  void add(std::shared_ptr<subscriber> sub);
  // Routes nothing more to `sub`; a topic nobody here takes any more leaves the subscription.
  void remove(const std::shared_ptr<subscriber>& sub);

  // The group's tasks, on strand(), until cancelled.
  asio::awaitable<void> fetch();
  asio::awaitable<void> commit_periodically();

  // close(), once the tasks ended: commits the positions that moved (without waiting; leaving
  // the group waits for it), then leaves the group. On strand().
  asio::awaitable<void> async_leave();

 private:
  struct assigned_partition;
  using partition_key = std::pair<std::string, std::int32_t>;

  std::shared_ptr<assigned_partition> partition_of(const kafka::record& r);
  // The record as a message of `source`, counted as started there.
  incoming_message to_incoming(kafka::record&& r, std::shared_ptr<assigned_partition> source);
  asio::awaitable<void> rebalance(const kafka::rebalance& r);
  // Keeps the messages delivered and not yet committed (the in-flight window) within
  // max_in_flight: commits early at half of it; when full, waits without polling, and pauses
  // every assigned partition if that takes long or a rebalance is known to be pending
  // (resumes at half).
  asio::awaitable<void> make_room();
  asio::awaitable<void> wait_for_change(fetch_window::duration at_most);
  void wake_window() noexcept;
  std::size_t uncommitted() const;
  std::size_t room() const;  // records the window takes now (at least 1)
  void note_errors(const std::vector<boost::system::error_code>& errors);
  // The broker's answers to our commits, to the partitions' progress.
  void note_commit_results();
  // Commits the positions of `partitions` that moved (without waiting for the answer).
  void commit(const std::vector<std::shared_ptr<assigned_partition>>& partitions);
  void commit_all();
  // Pauses and resumes what the assignment state decided.
  void carry_out(const assignment_state::actions& actions);
  // Tells the assignment state which partitions hold a message (see ack_handle::held): each
  // such partition pauses, one that no longer does resumes, so one held partition never stops
  // the others. On strand().
  void pause_held_partitions();
  // A handler of a revoked partition ended: the revoke waiting for them looks again.
  void wake_revoke() noexcept;

  backend_context context_;
  const kafka_config& cfg_;
  std::string name_;
  asio::strand<io_pool::executor_type> strand_;
  kafka::consumer consumer_;
  group_routes routes_;  // its topics are the consumer's subscription

  // Touched on strand() only (and after the tasks ended, by async_leave).
  std::map<partition_key, std::shared_ptr<assigned_partition>> assigned_;
  fetch_window window_;
  asio::steady_timer revoke_wake_;  // a revoke's wait for its running handlers
  asio::steady_timer window_wake_;  // make_room's wait for a change (wake_window)
  std::atomic<bool> window_waiting_{false};
  // Pauses and their reasons, positions given up, the generation commits carry. A commit
  // refused because the group rebalances means work done from then on could not be committed
  // (the next owner would deliver it again), so fetching holds until the rebalance reaches
  // this member (or rebalance_wait passes).
  assignment_state state_;
  std::optional<kafka::rebalance> pending_rebalance_;  // taken from librdkafka, not yet applied
};

}  // namespace corobus::detail
