#pragma once
// The shared state of a stream: the subscriber a backend feeds, and the queue the user's
// next() pops. Deliveries hold it, and reach the bus through a weak reference, so a delivery
// that outlives its bus is safe.
#include <corobus/eventbus/config.hpp>
#include <corobus/eventbus/stream.hpp>
#include "core/subscriber.hpp"

#include <deque>
#include <memory>
#include <mutex>

namespace corobus::detail {

class bus_state;

class stream_state final : public subscriber, public std::enable_shared_from_this<stream_state> {
 public:
  stream_state(std::weak_ptr<bus_state> core, std::string topic, std::string group, std::size_t capacity,
               retry_policy retry);

  // The user's handle; the subscription ends when its last copy is gone.
  corobus::stream make_stream();
  // The bus it came from, or null once that is gone.
  std::shared_ptr<bus_state> core() const noexcept { return core_.lock(); }
  asio::awaitable<std::optional<delivery>> next();

  // A delivery's end: done, or failed with `reason`.
  void ack(incoming_message& in);
  asio::awaitable<void> nack(incoming_message in, std::string reason);
  // A delivery dropped without ack or nack (a destructor cannot wait, so a dead letter, if
  // due, is written by a task of the bus).
  void dropped(incoming_message in);

  push_status try_deliver(incoming_message& in) override;
  asio::awaitable<void> deliver(incoming_message in, on_cancel cancel) override;
  void close_intake() override { queue_->close(); }
  bool finishes_queued_work() const noexcept override { return false; }
  void wait_settled_until(std::chrono::steady_clock::time_point deadline) override;
  std::size_t take_abandoned() override;

 private:
  // Puts a failed message back for next(), or says it must be dead-lettered.
  bool redeliver(incoming_message& in);

  std::weak_ptr<bus_state> core_;
  retry_policy retry_;
  // Every message it took holds an entry until it is acked, dead-lettered, abandoned or
  // dropped as stale (incoming_message::in_stream). Declared before the queue and the
  // redeliveries, so it outlives the messages they hold.
  gate unsettled_;
  std::shared_ptr<async_queue<incoming_message>> queue_;
  mutable std::mutex mutex_;
  std::deque<incoming_message> redeliveries_;  // failed messages waiting while the queue was full
};

}  // namespace corobus::detail
