#pragma once
// A push subscription: messages run through lanes into the user's handler, with retries in
// place and a dead letter after the last attempt.
#include <corobus/eventbus/config.hpp>
#include <corobus/eventbus/detail/subscriber.hpp>
#include <corobus/eventbus/handlers.hpp>
#include <corobus/runtime/lane_group.hpp>

#include <optional>
#include <variant>

namespace corobus::detail {

class bus_core;

class handler_subscriber final : public subscriber {
 public:
  // A message_handler subscription is unordered (shape: unordered), an envelope_handler one
  // is keyed by aggregate id (shape: keyed).
  handler_subscriber(bus_core& core, std::string topic, std::string group, lane_shape shape,
                     retry_policy retry, std::variant<message_handler, envelope_handler> handler);

  void start() override;
  push_status try_accept(inbound& in) override;
  asio::awaitable<void> accept(inbound in) override;
  void close_intake() override;
  bool drains_itself() const noexcept override { return true; }
  std::size_t take_abandoned() override;
  void interrupt(const message_source& source) override;

 private:
  static std::uint32_t lane_key(const inbound& in);
  asio::awaitable<void> process(inbound& in);

  bus_core& core_;
  lane_shape shape_;
  retry_policy retry_;
  std::variant<message_handler, envelope_handler> handler_;
  std::optional<lane_group<inbound>> lanes_;  // made by start()
};

}  // namespace corobus::detail
