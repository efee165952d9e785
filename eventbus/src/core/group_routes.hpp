#pragma once
// The subscriptions of one bus in one consumer group, by topic, and the one way a group's
// consumer hands them a message. Kafka has one consumer for every topic of a group; NATS one
// per group and topic, or per owned partition. A message goes to one member of its topic, a
// key always to the same one (its lanes keep the order; member_choice.hpp).
//
// The table is copy-on-write: a consumer keeps the one it read for a batch of messages while
// it awaits, and a subscription added or removed meanwhile is seen from the next read on.
// Any thread.
#include "core/handoff.hpp"
#include "core/subscriber.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace corobus::detail {

class group_routes {
 public:
  using members = std::vector<std::shared_ptr<subscriber>>;
  using table = std::map<std::string, members, std::less<>>;
  // Called with the group's topics whenever that set changes, under the table's lock (so
  // that the calls come in the order of the changes: a Kafka consumer's subscribe()).
  using topics_changed = std::function<void(const std::vector<std::string>&)>;

  // Messages enter the subscriptions through `h`, the bus's.
  explicit group_routes(handoff& h, topics_changed on_topics = {});

  void add(std::shared_ptr<subscriber> sub);
  void remove(const std::shared_ptr<subscriber>& sub);
  std::shared_ptr<const table> current() const;
  // Cheap (read for every pull): someone here takes messages.
  bool any() const noexcept { return any_.load(); }
  // The members of `topic` in `t`; none when nobody here takes it.
  static const members* of(const table& t, std::string_view topic);

  // Hands `in` to the member of its topic in `t` when that one has room now (the common case,
  // no coroutine); false otherwise, `in` untouched.
  bool try_deliver(const table& t, incoming_message& in);
  // Hands `in` to the member of its topic, waiting while that one is full, with the newest
  // table each time; when nobody here takes its topic any more, releases it (the group's
  // next owner delivers it).
  asio::awaitable<void> deliver(incoming_message in);

  // For a revoke that gave up waiting (revoke_timeout): cancels the handlers running for
  // each of `sources` in the subscriptions of its topic.
  void interrupt(std::string_view topic, const std::vector<const ack_handle*>& sources) const;

 private:
  void replace(std::shared_ptr<const table> next);  // under mutex_

  handoff& handoff_;
  mutable std::mutex mutex_;
  std::shared_ptr<const table> current_;
  topics_changed on_topics_;
  std::atomic<bool> any_{false};
  std::atomic<std::size_t> round_robin_{0};
};

}  // namespace corobus::detail
