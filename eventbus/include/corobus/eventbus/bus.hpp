#pragma once
// The event bus: publish, subscribe, stream and close, on the backend the config names.
//
// Every call that talks to the broker is an awaitable and reports failure by throwing
// boost::system::system_error with a corobus::errc (or an asio/broker) error code.
// A bus owns its io threads; run your coroutines on bus.get_executor() and call close()
// (or destroy the bus) from outside them. When close() returns, no task the bus started is
// alive and its threads and descriptors are gone.
#include <corobus/eventbus/config.hpp>
#include <corobus/eventbus/envelope.hpp>
#include <corobus/eventbus/handlers.hpp>
#include <corobus/eventbus/message.hpp>
#include <corobus/eventbus/metrics.hpp>
#include <corobus/eventbus/stream.hpp>
#include <corobus/runtime/io_pool.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace corobus {

namespace detail {
class bus_state;
class subscriber;
}

// A live subscription. It lasts until unsubscribe() or until the bus closes (dropping the
// handle does not end it: a push subscription usually outlives the code that made it).
class subscription {
 public:
  // An empty handle (as co_spawn with use_future needs): no topic, nothing to unsubscribe.
  subscription() = default;
  // Made by the bus.
  subscription(std::weak_ptr<detail::bus_state> core, std::shared_ptr<detail::subscriber> sub);

  const std::string& topic() const noexcept;  // empty for an empty handle
  const std::string& group() const noexcept;

  // No new messages reach the handler; those it already accepted are still handled. Its
  // group's other members (if any) take its share. Idempotent; nothing to do after close().
  void unsubscribe();

 private:
  std::weak_ptr<detail::bus_state> core_;
  std::shared_ptr<detail::subscriber> sub_;
};

// Every awaitable here starts when it is awaited and owns its arguments, and checks (closed,
// names, handler) happen then too. Options come through overloads rather than default
// arguments: g++ 12 destroys a default argument of aggregate type twice when the call stands
// in a co_await expression.
class bus {
 public:
  using executor_type = io_pool::executor_type;

  // Opens the bus: validates `cfg` (errc::invalid_config), starts the io threads and the
  // backend.
  explicit bus(config cfg = {});
  ~bus();  // close()

  bus(const bus&) = delete;
  bus& operator=(const bus&) = delete;

  // The io threads' executor, for your own coroutines. Throws errc::closed after close().
  executor_type get_executor();

  // Sends raw bytes. Completes when the backend accepted the message. Like every awaitable
  // here it starts when awaited, so it owns its arguments (a topic made on the fly is fine).
  asio::awaitable<publish_result> async_publish(std::string topic, std::string payload, publish_options options);
  asio::awaitable<publish_result> async_publish(std::string topic, std::string payload);
  // Validates the envelope (errc::invalid_envelope, nothing sent) and sends it keyed by its
  // aggregate id, with its metadata also in headers.
  asio::awaitable<publish_result> async_publish_envelope(std::string topic, envelope e);
  // Many envelopes for one await, in order (so one aggregate's versions may go together):
  // on Kafka they are produced at once and batched by librdkafka, which is how a publisher
  // gets throughput without giving up order. All are validated before any is sent. Results
  // in the batch's order. When some fail, the first error is thrown once every envelope has
  // its answer; the others may have been stored, so publish again and let consumers skip
  // repeats by event id. Counted as one publish error.
  asio::awaitable<std::vector<publish_result>> async_publish_envelopes(std::string topic, std::vector<envelope> batch);

  // Raw messages, unordered, at most `concurrency` handlers at once.
  asio::awaitable<subscription> async_subscribe(std::string topic, message_handler handler, subscribe_options options);
  asio::awaitable<subscription> async_subscribe(std::string topic, message_handler handler);
  // Envelopes in order per aggregate id: one aggregate's handler calls never overlap, and a
  // failing message is retried in place before the next of its aggregate starts.
  asio::awaitable<subscription> async_subscribe_envelopes(std::string topic, envelope_handler handler,
                                                    subscribe_options options);
  asio::awaitable<subscription> async_subscribe_envelopes(std::string topic, envelope_handler handler);
  // A pull loop over raw messages with explicit ack.
  asio::awaitable<corobus::stream> async_stream(std::string topic, subscribe_options options);
  asio::awaitable<corobus::stream> async_stream(std::string topic);

  // Refuses new work, lets in-flight handlers finish within config::close_grace, cancels the
  // rest, joins every task and the io threads. Idempotent; concurrent callers all return
  // when it is done. Must not be called from the bus's own io threads.
  void close();
  bool closed() const noexcept;

  metrics_snapshot metrics() const noexcept;
  const corobus::config& get_config() const noexcept;

 private:
  std::shared_ptr<detail::bus_state> core_;
};

}  // namespace corobus
