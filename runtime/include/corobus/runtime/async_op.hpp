#pragma once
// Every corobus operation in asio's universal model, as Boost.Redis's async_exec and
// Boost.MySQL's async_execute are: `x.async_op(args..., token)`, completing with
// `void(error_code, T)` (or `void(error_code)`).
//
// Without a token it is `asio::use_awaitable`, so `co_await bus.async_publish(...)` works and
// throws boost::system::system_error on failure. With use_future, a callback, deferred or
// as_tuple, the same operation completes through the token with an error code instead.
//
// Two models, chosen by the token alone:
// - Every form of use_awaitable (`use_awaitable`, `as_tuple(use_awaitable)`,
//   `redirect_error(use_awaitable, ec)`) runs the body inline, in the awaiting coroutine: it
//   costs nothing beyond the body, and its cancellation is the awaiting coroutine's own
//   (asio::this_coro::cancellation_state; bind a slot where you co_spawn, or use asio's
//   awaitable operators). The two no-throw forms only catch what the body threw.
// - Any other token runs the body as a task of its own, started by the operation's owner
//   (`Start`: for the bus, a task of the bus, which close() waits for), and the token's
//   cancellation slot reaches it.
#include <corobus/runtime/asio.hpp>
#include <corobus/runtime/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/system_executor.hpp>

#include <exception>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace corobus {

// The token an operation takes when it is given none.
using default_token = asio::use_awaitable_t<>;

namespace detail {
template <class T>
struct completion_of {
  using type = void(boost::system::error_code, T);
};
template <>
struct completion_of<void> {
  using type = void(boost::system::error_code);
};
}  // namespace detail

// The completion signature of an operation whose body yields T.
template <class T>
using completion_signature_of = typename detail::completion_of<T>::type;

// A completion handler of any type, for an operation whose body yields T.
template <class T>
using any_handler_of = asio::any_completion_handler<completion_signature_of<T>>;

// The code an operation completes with when its body threw `e`: a system_error's own code,
// errc::internal (logged with its message) for anything else.
boost::system::error_code to_error_code(std::exception_ptr e) noexcept;

// Completes `handler` on its associated executor (dispatch: at once when it has none, as a
// future's has not).
template <class Handler, class... Args>
void complete(Handler handler, Args... args) {
  auto ex = asio::get_associated_executor(handler, asio::system_executor());
  asio::dispatch(ex,
                 [h = std::move(handler), ... args = std::move(args)]() mutable { std::move(h)(std::move(args)...); });
}

// Completes an operation that never started: the owner refused it with `ec`.
template <class T>
void complete_refused(any_handler_of<T> handler, boost::system::error_code ec) {
  if constexpr (std::is_void_v<T>)
    complete(std::move(handler), ec);
  else
    complete(std::move(handler), ec, T{});
}

// Runs `op`, then completes `handler` with what it yielded or threw. `clear_slot`: first take
// back what the starter put into the handler's cancellation slot (asio's rule: an operation
// leaves its slot empty when it completes). Not when co_spawn put it there: its cancellation
// state lives in that handler until the coroutine ends (so no starter here does that: see
// start_on).
template <class T>
asio::awaitable<void> run_then_complete(asio::awaitable<T> op, any_handler_of<T> handler, bool clear_slot = false) {
  boost::system::error_code ec;
  if constexpr (std::is_void_v<T>) {
    try {
      co_await std::move(op);
    } catch (...) {
      ec = to_error_code(std::current_exception());
    }
    if (clear_slot) asio::get_associated_cancellation_slot(handler).clear();
    complete(std::move(handler), ec);
  } else {
    T value{};
    try {
      value = co_await std::move(op);
    } catch (...) {
      ec = to_error_code(std::current_exception());
    }
    if (clear_slot) asio::get_associated_cancellation_slot(handler).clear();
    complete(std::move(handler), ec, std::move(value));
  }
}

namespace detail {

// `op` inline, its failure as the tuple's code (as_tuple(use_awaitable)).
template <class T>
auto as_tuple_inline(asio::awaitable<T> op)
    -> asio::awaitable<std::conditional_t<std::is_void_v<T>, std::tuple<boost::system::error_code>,
                                          std::tuple<boost::system::error_code, T>>> {
  std::exception_ptr failure;
  if constexpr (std::is_void_v<T>) {
    try {
      co_await std::move(op);
      co_return std::tuple<boost::system::error_code>{};
    } catch (...) {
      failure = std::current_exception();
    }
    co_return std::tuple<boost::system::error_code>{to_error_code(failure)};
  } else {
    try {
      co_return std::tuple<boost::system::error_code, T>{boost::system::error_code{}, co_await std::move(op)};
    } catch (...) {
      failure = std::current_exception();
    }
    co_return std::tuple<boost::system::error_code, T>{to_error_code(failure), T{}};
  }
}

// `op` inline, its failure in `ec` (redirect_error(use_awaitable, ec)).
template <class T>
asio::awaitable<T> redirect_error_inline(asio::awaitable<T> op, boost::system::error_code& ec) {
  ec = {};
  std::exception_ptr failure;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(op);
      co_return;
    } else {
      co_return co_await std::move(op);
    }
  } catch (...) {
    failure = std::current_exception();
  }
  ec = to_error_code(failure);
  if constexpr (!std::is_void_v<T>) co_return T{};
}

}  // namespace detail

// The operation whose body is `op`, in the shape `token` asks for. For every form of
// use_awaitable, the body inline (see the top). For any other token,
// `start(std::move(op), any_handler_of<T>)` runs it: as co_spawn(..., run_then_complete(op,
// handler)) with the handler's cancellation slot, or complete_refused() when it cannot.
template <class T, class Token, class Start>
auto launch(asio::awaitable<T> op, Token&& token, Start start) {
  using token_type = std::decay_t<Token>;
  if constexpr (std::is_same_v<token_type, default_token>) {
    return op;
  } else if constexpr (std::is_same_v<token_type, asio::as_tuple_t<default_token>>) {
    return detail::as_tuple_inline(std::move(op));
  } else if constexpr (std::is_same_v<token_type, asio::redirect_error_t<default_token>>) {
    return detail::redirect_error_inline(std::move(op), token.ec_);
  } else {
    return asio::async_initiate<Token, completion_signature_of<T>>(
        [start = std::move(start)](auto handler, asio::awaitable<T> body) mutable {
          start(std::move(body), any_handler_of<T>(std::move(handler)));
        },
        token, std::move(op));
  }
}

// A `Start` for launch(): runs the body on `ex`, cancellable through the handler's slot.
// The body's task has a cancellation signal of its own, kept until the task ended; the
// handler's slot only forwards to it and is emptied before the handler completes. (Binding
// the handler's slot to co_spawn would put the task's cancellation state in the caller's
// slot: a caller resumed inline by the completion clears that slot while the task is still
// unwinding, and the task then writes into memory the next operation's slot reuses.)
template <class Executor>
auto start_on(Executor ex) {
  return [ex = std::move(ex)](auto body, auto handler) {
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (!slot.is_connected()) {
      asio::co_spawn(ex, run_then_complete(std::move(body), std::move(handler)), asio::detached);
      return;
    }
    auto signal = std::make_shared<asio::cancellation_signal>();
    slot.assign([ex, to = std::weak_ptr<asio::cancellation_signal>(signal)](asio::cancellation_type type) {
      asio::dispatch(ex, [to, type] {
        if (const auto s = to.lock()) s->emit(type);
      });
    });
    asio::co_spawn(ex, run_then_complete(std::move(body), std::move(handler), true),
                   asio::bind_cancellation_slot(signal->slot(), [signal](std::exception_ptr) {}));
  };
}

}  // namespace corobus
