#pragma once
// Threads for calls that block: a client library's connect, its management requests (cnats's
// JetStream calls wait on replies only the event loop can read, so they must never run on an
// io thread). The caller awaits the result; the owner's close joins the threads.
//
//   auto info = co_await blocking.async_call([&] { return manage_stream(...); });
//
// A call completes with (error_code, R) (or (error_code) for void) on its handler's
// executor: an exception from `f` becomes its code (see to_error_code). A blocking call
// cannot be cancelled: it runs to its end, which its own timeout bounds.
#include <corobus/runtime/async_op.hpp>
#include <corobus/runtime/error.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace corobus {

class blocking_pool {
 public:
  explicit blocking_pool(std::size_t threads = 1) : pool_(threads == 0 ? 1 : threads) {}
  ~blocking_pool() { shutdown(); }

  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  // Runs `f()` on one of the threads. After shutdown() it completes with errc::closed.
  template <class F, class Token = default_token>
  auto async_call(F f, Token&& token = {}) {
    using R = std::invoke_result_t<F&>;
    return asio::async_initiate<Token, completion_signature_of<R>>(
        [this](auto handler, F fn) {
          if (closed_.load(std::memory_order_acquire))
            return complete_refused<R>(any_handler_of<R>(std::move(handler)), make_error_code(errc::closed));
          // The handler's executor stays alive (counted as work) until the result is there.
          auto work = asio::make_work_guard(asio::get_associated_executor(handler, asio::system_executor()));
          asio::post(pool_, [h = std::move(handler), fn = std::move(fn), work = std::move(work)]() mutable {
            boost::system::error_code ec;
            if constexpr (std::is_void_v<R>) {
              try {
                fn();
              } catch (...) {
                ec = to_error_code(std::current_exception());
              }
              complete(std::move(h), ec);
            } else {
              R result{};
              try {
                result = fn();
              } catch (...) {
                ec = to_error_code(std::current_exception());
              }
              complete(std::move(h), ec, std::move(result));
            }
          });
        },
        token, std::move(f));
  }

  // Refuses new calls, lets the running and queued ones end, and joins the threads. Not from
  // one of them. Idempotent.
  void shutdown() {
    closed_.store(true, std::memory_order_release);
    pool_.join();
  }

 private:
  asio::thread_pool pool_;
  std::atomic<bool> closed_{false};
};

// For a coroutine that wants what `f` threw as it was thrown, its text included (a
// completion carries only the exception's code: "creating JetStream stream 'orders':
// Timeout" would arrive as "Timeout"). Name the lambda before the co_await (g++ 12).
template <class F>
asio::awaitable<std::invoke_result_t<F&>> call_rethrowing(blocking_pool& pool, F f) {
  using R = std::invoke_result_t<F&>;
  using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  struct outcome {
    std::optional<value_type> value;
    std::exception_ptr error;
  };
  auto run = [f = std::move(f)]() mutable -> outcome {
    try {
      if constexpr (std::is_void_v<R>) {
        f();
        return {value_type{}, nullptr};
      } else {
        return {f(), nullptr};
      }
    } catch (...) {
      return {std::nullopt, std::current_exception()};
    }
  };
  auto done = co_await pool.async_call(std::move(run), asio::use_awaitable);
  if (done.error) std::rethrow_exception(done.error);
  if constexpr (!std::is_void_v<R>) co_return std::move(*done.value);
}

}  // namespace corobus
