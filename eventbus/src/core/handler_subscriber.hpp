#pragma once
// A push subscription: messages run through lanes into the user's handler, with retries in
// place and a dead letter after the last attempt.
#include <corobus/eventbus/config.hpp>
#include <corobus/eventbus/handlers.hpp>
#include <corobus/runtime/lane_group.hpp>
#include "core/subscriber.hpp"

#include <optional>
#include <variant>

namespace corobus::detail {

class bus_state;

class handler_subscriber final : public subscriber {
 public:
  // A message_handler subscription is unordered (shape: unordered), an envelope_handler one
  // is keyed by aggregate id (shape: keyed).
  handler_subscriber(bus_state& core, std::string topic, std::string group, lane_shape shape, retry_policy retry,
                     std::variant<message_handler, envelope_handler> handler);

  void start() override;
  push_status try_deliver(incoming_message& in) override;
  asio::awaitable<void> deliver(incoming_message in, on_cancel cancel) override;
  void close_intake() override;
  bool finishes_queued_work() const noexcept override { return true; }
  std::size_t take_abandoned() override;
  void interrupt(const ack_handle& source) override;

 private:
  std::uint32_t lane_key(const incoming_message& in) const;
  asio::awaitable<void> process(incoming_message& in);

  bus_state& core_;
  lane_shape shape_;
  retry_policy retry_;
  std::variant<message_handler, envelope_handler> handler_;
  std::optional<lane_group<incoming_message>> lanes_;  // made by start()
};

}  // namespace corobus::detail
