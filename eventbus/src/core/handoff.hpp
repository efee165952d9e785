#pragma once
// The one way a message enters a subscription: a backend hands each message it fetched (the
// in-process backend, each publish) to one subscriber, and the counters see it accepted.
#include "core/counters.hpp"
#include "core/incoming_message.hpp"
#include "core/subscriber.hpp"

#include <atomic>

namespace corobus::detail {

class handoff {
 public:
  // `closing` is the bus's: set once close() began.
  handoff(counters& stats, const std::atomic<bool>& closing) noexcept : stats_(stats), closing_(closing) {}

  // Without waiting: true when `sub` took `in` now; false (and `in` not taken) when `sub` is
  // full or ended.
  bool try_deliver(subscriber& sub, incoming_message& in);
  // Hands `in` to `sub`, waiting while `sub` is full. False when `sub` ended meanwhile
  // (unsubscribed) and did not take it; throws errc::closed when that is because the bus
  // closes.
  // `cancel`: see subscriber::deliver.
  asio::awaitable<bool> deliver(subscriber& sub, incoming_message in, on_cancel cancel);

 private:
  counters& stats_;
  const std::atomic<bool>& closing_;
};

}  // namespace corobus::detail
