#pragma once
// The one way a message enters a subscription: a backend hands each message it fetched (the
// in-process backend, each publish) to one subscriber, and the counters see it accepted.
//
// The copy rule, kept here and nowhere else: a subscriber that keeps the message itself
// beyond the hand-over (a stream's reader, a raw message handler: subscriber::needs_own_copy)
// gets it detached from the transport's buffers, and the copy is made at the hand-over to the
// subscriber that takes it, on the fast path and the waiting one alike. Never earlier: a
// retry may choose another member than the first try (round robin), and a librdkafka record
// reaching a stream undetached has an empty payload and holds the client open (close() waits
// for it).
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
  // The copy rule (see the top).
  static void detach_for(const subscriber& sub, incoming_message& in);

  counters& stats_;
  const std::atomic<bool>& closing_;
};

}  // namespace corobus::detail
