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
#include <corobus/runtime/async_op.hpp>

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

  // The message is done: void(error_code). Nothing to cancel.
  template <class Token = default_token>
  auto async_ack(Token&& token = {}) {
    return launch(ack_op(), std::forward<Token>(token), [this](asio::awaitable<void> body, any_handler_of<void> h) {
      start("ack", std::move(body), std::move(h));
    });
  }
  // The message failed: it is delivered again, or dead-lettered after the last attempt:
  // void(error_code). Cancellation does not withdraw a dead letter being written (see
  // bus::async_publish).
  template <class Token = default_token>
  auto async_nack(std::string reason, Token&& token = {}) {
    return launch(
        nack_op(std::move(reason)), std::forward<Token>(token),
        [this](asio::awaitable<void> body, any_handler_of<void> h) { start("nack", std::move(body), std::move(h)); });
  }

 private:
  friend class detail::stream_state;
  asio::awaitable<void> ack_op();
  asio::awaitable<void> nack_op(std::string reason);
  // See bus::starter; the bus is the one the stream came from.
  void start(const char* name, asio::awaitable<void> body, any_handler_of<void> handler) const;

  delivery(std::shared_ptr<detail::stream_state> state, detail::incoming_message in);

  std::shared_ptr<detail::stream_state> state_;
  std::unique_ptr<detail::incoming_message> in_;     // null once moved from
  std::shared_ptr<const corobus::message> settled_;  // kept readable after ack or nack
  unsigned attempt_ = 1;
};

// Copies share one subscription; when the last copy is gone, the subscription ends (what it
// had queued is counted as abandoned), so a forgotten stream never holds publishers back.
class stream {
 public:
  // An empty handle (as co_spawn with use_future needs): next() yields nothing.
  stream() = default;

  // The next message: void(error_code, std::optional<delivery>), empty once the bus closed.
  // Cancelled while it waits, it completes with operation_aborted and takes nothing: the
  // message that arrives next is the next call's.
  template <class Token = default_token>
  auto async_next(Token&& token = {}) {
    return launch(next_op(), std::forward<Token>(token),
                  [this](asio::awaitable<std::optional<delivery>> body, any_handler_of<std::optional<delivery>> h) {
                    start(std::move(body), std::move(h));
                  });
  }
  const std::string& topic() const noexcept;  // empty for an empty handle

 private:
  asio::awaitable<std::optional<delivery>> next_op();
  void start(asio::awaitable<std::optional<delivery>> body, any_handler_of<std::optional<delivery>> handler) const;

  friend class detail::stream_state;
  stream(std::shared_ptr<detail::stream_state> state, std::shared_ptr<void> subscription)
      : state_(std::move(state)), subscription_(std::move(subscription)) {}
  std::shared_ptr<detail::stream_state> state_;
  std::shared_ptr<void> subscription_;  // ends the subscription when the last copy goes
};

}  // namespace corobus
