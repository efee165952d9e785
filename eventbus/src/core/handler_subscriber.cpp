#include "core/handler_subscriber.hpp"
#include <corobus/runtime/log.hpp>
#include <corobus/runtime/stable_hash.hpp>
#include "core/bus_state.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>

namespace corobus::detail {
handler_subscriber::handler_subscriber(bus_state& core, std::string topic, std::string group, lane_shape shape,
                                       retry_policy retry, std::variant<message_handler, envelope_handler> handler)
    : subscriber(std::move(topic), std::move(group), std::holds_alternative<envelope_handler>(handler)),
      core_(core),
      shape_(shape),
      retry_(retry),
      handler_(std::move(handler)) {}

void handler_subscriber::start() {
  lanes_.emplace(
      core_.scope(), core_.pool(), shape_, [this](incoming_message& in) { return process(in); },
      fmt::format("lane of '{}' group '{}'", topic(), group()));
}

std::uint32_t handler_subscriber::lane_key(const incoming_message& in) const {
  std::string scratch;
  return stable_hash(ordering_key(in, wants_envelopes(), scratch));
}

push_status handler_subscriber::try_deliver(incoming_message& in) { return lanes_->try_push(lane_key(in), in); }

asio::awaitable<void> handler_subscriber::deliver(incoming_message in, on_cancel cancel) {
  const auto key = lane_key(in);
  co_await lanes_->push(key, std::move(in), cancel);
}

void handler_subscriber::close_intake() { lanes_->close(); }

std::size_t handler_subscriber::take_abandoned() { return lanes_->take_abandoned().size(); }

void handler_subscriber::interrupt(const ack_handle& source) {
  lanes_->interrupt_if([&source](const incoming_message& in) { return in.source.get() == &source; });
}

// Runs in the message's lane: the lane takes its next message only when this returns, so a
// retried message holds back the later messages of its key and order is kept.
asio::awaitable<void> handler_subscriber::process(incoming_message& in) {
  // Read synchronously: once the lane is cancelled, asio throws from every further co_await.
  // Terminal: the bus closes. Partial: this message's partition was given up (interrupt()).
  const auto state = co_await asio::this_coro::cancellation_state;
  const auto cancelled = [&state] { return state.cancelled() != asio::cancellation_type::none; };
  const auto closing = [&state] {
    return (state.cancelled() & asio::cancellation_type::terminal) != asio::cancellation_type::none;
  };
  // Decoded here rather than by the fetch loop, so that decoding runs on every io thread.
  std::string error;
  if (wants_envelopes() && !decode_envelope(in, error)) {
    co_await core_.dead_letters().write_undecodable(std::move(in), std::move(error));
    co_return;
  }
  for (unsigned attempt = 1;; ++attempt) {
    if (attempt > 1) {
      asio::steady_timer backoff(co_await asio::this_coro::executor, retry_.backoff_before(attempt));
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (closing()) break;
    if (in.stale()) {  // its partition moved on while it waited in the lane (or for a retry)
      core_.drop_stale(in);
      co_return;
    }
    if (attempt > 1) core_.stats().retried.add();
    bool ok = false;
    try {
      // Called here, not from a helper coroutine: one coroutine frame fewer per message.
      if (auto* h = std::get_if<envelope_handler>(&handler_))
        co_await (*h)(*in.env);
      else
        co_await std::get<message_handler>(handler_)(*in.msg);
      ok = true;
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    if (ok) {
      core_.settle(in);
      co_return;
    }
    if (closing()) break;
    if (in.stale()) {  // failed (or was cancelled) after its partition moved on: not ours to retry
      core_.drop_stale(in);
      co_return;
    }
    if (cancelled()) break;
    if (attempt >= retry_.attempts) {
      co_await core_.dead_letters().write(std::move(in), std::move(error), attempt);
      co_return;
    }
    log().warn("handler for '{}' offset {} key '{}' failed (attempt {} of {}): {}", in.msg->topic, in.msg->offset,
               in.msg->key, attempt, retry_.attempts, error);
  }
  // Cancelled by close(): the message is not done (a broker would deliver it again).
  core_.abandon(1);
}

}  // namespace corobus::detail
