#pragma once
// The event bus: publish, subscribe, stream and close, on the backend the config names.
//
// Every call that talks to the broker is an asio asynchronous operation (async_*, with a
// completion token) and fails with a corobus::errc (or an asio/broker) error code.
// A bus owns its io threads; run your coroutines on bus.get_executor() and call close()
// (or destroy the bus) from outside them. When close() returns, no task the bus started is
// alive and its threads and descriptors are gone.
#include <corobus/eventbus/config.hpp>
#include <corobus/eventbus/envelope.hpp>
#include <corobus/eventbus/handlers.hpp>
#include <corobus/eventbus/message.hpp>
#include <corobus/eventbus/metrics.hpp>
#include <corobus/eventbus/stream.hpp>
#include <corobus/runtime/async_op.hpp>
#include <corobus/runtime/io_pool.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace corobus {

namespace detail {
class bus_state;
class subscriber;

// Runs an operation's body for a token other than use_awaitable: as a task of the bus, on a
// strand of its own, cancelled by close() and by the handler's cancellation slot. Completes
// the handler with errc::closed when the bus is closed (or gone: `core` may be null).
template <class T>
void start_call(const std::shared_ptr<bus_state>& core, const char* name, asio::awaitable<T> body,
                any_handler_of<T> handler);
}  // namespace detail

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

// Every operation takes a completion token last (runtime/async_op.hpp): none means
// asio::use_awaitable, so `co_await bus.async_publish(...)` throws system_error on failure;
// use_future, callbacks, deferred and as_tuple get an error code instead. With any form of
// use_awaitable (plain, as_tuple(use_awaitable), redirect_error(use_awaitable, ec)) an
// operation runs in the awaiting coroutine when it is awaited, cancelled with it; with any
// other token it runs as a task of the bus, which close() waits for. Either way it owns its
// arguments, its checks (closed, names, handler) happen as it starts, and after close it
// completes with errc::closed.
//
// Cancellation, for every operation: with a use_awaitable form, the awaiting coroutine's
// (terminal, partial and total alike: asio's `||` operator, or a slot bound where the
// coroutine was spawned); with other tokens, the token's cancellation slot, forwarded to the
// operation's task (terminal, partial and total alike). What a cancelled operation leaves is
// said at each: a wait (stream::async_next, a subscribe waiting for its topic) ends with
// operation_aborted and takes nothing; a publish the broker already took is not undone.
//
// Options come through overloads rather than default arguments, so that the token can follow
// them (the g++ 12 rule that made them classes rather than aggregates is in message.hpp).
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

  // Sends raw bytes; completes with void(error_code, publish_result) when the backend has the
  // message (on Kafka: the broker acknowledged it; in-process: every group has it).
  // Cancellation does not withdraw a publish: a record librdkafka holds cannot be taken back
  // (its report comes within message.timeout.ms), and an in-process publish is not stopped
  // halfway through its groups; a publish waiting for room ends with errc::closed at close.
  template <class Token = default_token>
  auto async_publish(std::string topic, std::string payload, publish_options options, Token&& token = {}) {
    return launch(publish_op(std::move(topic), std::move(payload), std::move(options)), std::forward<Token>(token),
                  starter<publish_result>{this, "publish"});
  }
  template <class Token = default_token>
  auto async_publish(std::string topic, std::string payload, Token&& token = {}) {
    return async_publish(std::move(topic), std::move(payload), publish_options{}, std::forward<Token>(token));
  }
  // Validates the envelope (errc::invalid_envelope, nothing sent) and sends it keyed by its
  // aggregate id, with its metadata also in headers. Cancellation as for async_publish.
  template <class Token = default_token>
  auto async_publish_envelope(std::string topic, envelope e, Token&& token = {}) {
    return launch(publish_envelope_op(std::move(topic), std::move(e)), std::forward<Token>(token),
                  starter<publish_result>{this, "publish_envelope"});
  }
  // Many envelopes for one completion, in order (so one aggregate's versions may go
  // together): on Kafka they are produced at once and batched by librdkafka, which is how a
  // publisher gets throughput without giving up order. All are validated before any is sent.
  // Results in the batch's order. When some fail, the first error is the batch's once every
  // envelope has its answer; the others may have been stored, so publish again and let
  // consumers skip repeats by event id. Counted as one publish error. Cancellation as for
  // async_publish.
  template <class Token = default_token>
  auto async_publish_envelopes(std::string topic, std::vector<envelope> batch, Token&& token = {}) {
    return launch(publish_envelopes_op(std::move(topic), std::move(batch)), std::forward<Token>(token),
                  starter<std::vector<publish_result>>{this, "publish_envelopes"});
  }

  // Raw messages, unordered, at most `concurrency` handlers at once. Completes with
  // void(error_code, subscription) once the backend routes the topic to the handler (on
  // Kafka: the topic and its dead-letter topic exist). Cancelled before then, it completes
  // with operation_aborted and leaves no subscription behind.
  template <class Token = default_token>
  auto async_subscribe(std::string topic, message_handler handler, subscribe_options options, Token&& token = {}) {
    return launch(subscribe_op(std::move(topic), std::move(handler), std::move(options)), std::forward<Token>(token),
                  starter<subscription>{this, "subscribe"});
  }
  template <class Token = default_token>
  auto async_subscribe(std::string topic, message_handler handler, Token&& token = {}) {
    return async_subscribe(std::move(topic), std::move(handler), subscribe_options{}, std::forward<Token>(token));
  }
  // Envelopes in order per aggregate id: one aggregate's handler calls never overlap, and a
  // failing message is retried in place before the next of its aggregate starts.
  // Cancellation as for async_subscribe.
  template <class Token = default_token>
  auto async_subscribe_envelopes(std::string topic, envelope_handler handler, subscribe_options options,
                                 Token&& token = {}) {
    return launch(subscribe_op(std::move(topic), std::move(handler), std::move(options)), std::forward<Token>(token),
                  starter<subscription>{this, "subscribe_envelopes"});
  }
  template <class Token = default_token>
  auto async_subscribe_envelopes(std::string topic, envelope_handler handler, Token&& token = {}) {
    return async_subscribe_envelopes(std::move(topic), std::move(handler), subscribe_options{},
                                     std::forward<Token>(token));
  }
  // A pull loop over raw messages with explicit ack: void(error_code, stream). Cancellation as
  // for async_subscribe.
  template <class Token = default_token>
  auto async_stream(std::string topic, subscribe_options options, Token&& token = {}) {
    return launch(stream_op(std::move(topic), std::move(options)), std::forward<Token>(token),
                  starter<corobus::stream>{this, "stream"});
  }
  template <class Token = default_token>
  auto async_stream(std::string topic, Token&& token = {}) {
    return async_stream(std::move(topic), subscribe_options{}, std::forward<Token>(token));
  }

  // Refuses new work, lets in-flight handlers finish within config::close_grace, cancels the
  // rest, joins every task and the io threads. Idempotent; concurrent callers all return
  // when it is done. Must not be called from the bus's own io threads.
  void close();
  bool closed() const noexcept;

  metrics_snapshot metrics() const noexcept;
  // The link to the brokers (NATS: connected, disconnects, reconnects, the last error).
  connection_status connection() const;
  const corobus::config& get_config() const noexcept;

 private:
  // The operations' bodies. (Not coroutines themselves, so taking rvalues is safe: each
  // moves its arguments into the coroutine it returns, once.)
  asio::awaitable<publish_result> publish_op(std::string&& topic, std::string&& payload, publish_options&& options);
  asio::awaitable<publish_result> publish_envelope_op(std::string&& topic, envelope&& e);
  asio::awaitable<std::vector<publish_result>> publish_envelopes_op(std::string&& topic, std::vector<envelope>&& batch);
  asio::awaitable<subscription> subscribe_op(std::string topic, std::variant<message_handler, envelope_handler> handler,
                                             subscribe_options options);
  asio::awaitable<corobus::stream> stream_op(std::string topic, subscribe_options options);

  // launch()'s Start for a token other than use_awaitable: the body runs as a task of the
  // bus (detail::start_call), so the bus must outlive the operation's start, as an asio I/O
  // object must. Only a pointer and a name, made for every call. A class with a declared call
  // operator, not a lambda from a function with a deduced return type: clang refuses such a
  // function where the operations above use it, before its definition.
  template <class T>
  struct starter {
    const bus* owner;
    const char* name;
    void operator()(asio::awaitable<T> body, any_handler_of<T> handler) const {
      detail::start_call(owner->core_, name, std::move(body), std::move(handler));
    }
  };

  std::shared_ptr<detail::bus_state> core_;
};

}  // namespace corobus
