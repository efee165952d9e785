#pragma once
// Pull-style consumption: a plain co_await loop.
//
//   auto s = co_await bus.async_stream("audit");
//   while (auto d = co_await s.async_next()) {   // ends when the bus closes
//     co_await handle(d->message());
//     co_await d->async_ack();
//   }
//
// A delivery that is neither acked nor nacked when it is destroyed counts as a nack: it is
// delivered again, and after the last attempt of the retry policy it goes to `<topic>.dlq`.
#include <corobus/eventbus/message.hpp>
#include <corobus/runtime/asio.hpp>

#include <memory>
#include <optional>
#include <string>

namespace corobus {

namespace detail {
class stream_state;
struct incoming_message;
}  // namespace detail

class delivery {
 public:
  delivery(delivery&&) noexcept;
  delivery& operator=(delivery&&) noexcept;
  ~delivery();

  // Readable until the delivery is destroyed or moved from, ack and nack included.
  const corobus::message& message() const noexcept;
  unsigned attempt() const noexcept;  // 1 for the first delivery

  // The message is done.
  asio::awaitable<void> async_ack();
  // The message failed: it is delivered again, or dead-lettered after the last attempt.
  asio::awaitable<void> async_nack(std::string reason);

 private:
  friend class detail::stream_state;
  delivery(std::shared_ptr<detail::stream_state> state, detail::incoming_message in);

  std::shared_ptr<detail::stream_state> state_;
  std::unique_ptr<detail::incoming_message> in_;  // null once moved from
  std::shared_ptr<const corobus::message> settled_;  // kept readable after ack or nack
  unsigned attempt_ = 1;
};

// Copies share one subscription; when the last copy is gone, the subscription ends (what it
// had queued is counted as abandoned), so a forgotten stream never holds publishers back.
class stream {
 public:
  // An empty handle (as co_spawn with use_future needs): next() yields nothing.
  stream() = default;

  // The next message; empty once the bus closed.
  asio::awaitable<std::optional<delivery>> async_next();
  const std::string& topic() const noexcept;  // empty for an empty handle

 private:
  friend class detail::stream_state;
  stream(std::shared_ptr<detail::stream_state> state, std::shared_ptr<void> subscription)
      : state_(std::move(state)), subscription_(std::move(subscription)) {}
  std::shared_ptr<detail::stream_state> state_;
  std::shared_ptr<void> subscription_;  // ends the subscription when the last copy goes
};

}  // namespace corobus
