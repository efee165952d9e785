#pragma once
// The consuming end of one subscription, as a backend sees it: somewhere to hand messages.
#include <corobus/runtime/async_queue.hpp>
#include "core/incoming_message.hpp"

#include <chrono>
#include <cstddef>
#include <string>

namespace corobus::detail {

class subscriber {
 public:
  subscriber(std::string topic, std::string group, bool wants_envelopes)
      : topic_(std::move(topic)), group_(std::move(group)), wants_envelopes_(wants_envelopes) {}
  virtual ~subscriber() = default;

  const std::string& topic() const noexcept { return topic_; }
  const std::string& group() const noexcept { return group_; }
  // True when its handler takes envelopes: it decodes those that come without one
  // (bus_state::decode_envelope).
  bool wants_envelopes() const noexcept { return wants_envelopes_; }
  // True when the message itself reaches the application (a message handler, or a stream's
  // reader, who may keep it): it must then own its payload and headers (incoming_message::detach_from_transport).
  bool needs_own_copy() const noexcept { return !wants_envelopes_ || !finishes_queued_work(); }

  // Starts its tasks, if it has any. Called once, by bus_state::add_subscriber, under the
  // lock that close() takes to mark the bus closing.
  virtual void start() {}

  // The fast path: takes `in` when there is room now.
  virtual push_status try_deliver(incoming_message& in) = 0;
  // Waits for room; throws system_error(errc::closed) after close_intake(). `cancel` says
  // whether the waiting coroutine's cancellation ends the wait (a fetch loop's does; a
  // publisher's does not: a publish is never cut off halfway through its groups).
  virtual asio::awaitable<void> deliver(incoming_message in, on_cancel cancel) = 0;
  // No new messages; what was accepted is still handled, if finishes_queued_work().
  virtual void close_intake() = 0;
  // True when its own tasks handle what it accepted after close_intake() (lanes do; a
  // stream's queue is pulled by its user, who is gone when the subscription ends).
  virtual bool finishes_queued_work() const noexcept = 0;
  // For close(), once intake is closed: waits (blocking, until `deadline` at most) for what
  // it took to be done by someone outside the bus's tasks (a stream's reader). Subscriptions
  // whose own tasks handle everything return at once; the bus's task scope waits for those.
  virtual void wait_settled_until(std::chrono::steady_clock::time_point /*deadline*/) {}
  // After its tasks ended: counts (and forgets) what was accepted but never handled.
  virtual std::size_t take_abandoned() = 0;
  // Cancels the handlers running for messages of `source` (a revoked partition given up
  // after revoke_timeout). Subscriptions whose messages wait on their reader do nothing.
  virtual void interrupt(const ack_handle& /*source*/) {}

 private:
  std::string topic_;
  std::string group_;
  bool wants_envelopes_;
};

}  // namespace corobus::detail
