#pragma once
// A bounded multi-producer multi-consumer queue for coroutines.
//
// Why not asio::experimental::concurrent_channel: in Boost 1.81 its close() discards the
// buffered values and leaves blocked senders waiting, while a bus that closes must drain what
// it accepted and release blocked publishers with a clear error. Here close() stops intake,
// fails waiting pushers with errc::closed, and consumers get the remaining items and then an
// empty optional.
//
// The try_* calls are the fast path (no allocation, no suspension); the async_* calls wait.
// Waits honour per-operation cancellation (operation_aborted) and complete on the waiter's
// associated executor, never inline in the caller of push or close.
#include <corobus/runtime/asio.hpp>
#include <corobus/runtime/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace corobus {

enum class push_status { pushed, full, closed };

// What a wait for room does when the waiting coroutine is cancelled: ends with
// operation_aborted, or waits on (close() still ends it, with errc::closed).
enum class on_cancel { abort, ignore };

template <class T>
class async_queue : public std::enable_shared_from_this<async_queue<T>> {
 public:
  using pop_signature = void(boost::system::error_code, std::optional<T>);
  using push_signature = void(boost::system::error_code);

  // Owned through shared_ptr: the cancellation handler installed for a wait stays in the
  // waiter's slot until the waiter resumes, a moment after the wait completed, and keeps the
  // queue alive until then.
  static std::shared_ptr<async_queue> create(std::size_t capacity) {
    return std::shared_ptr<async_queue>(new async_queue(capacity));
  }

  push_status try_push(T& value) {
    std::unique_lock lock(mutex_);
    if (closed_) return push_status::closed;
    if (!pop_waiters_.empty()) {
      auto w = take_front(pop_waiters_);
      lock.unlock();
      complete(w.executor, std::move(w.handler), boost::system::error_code{}, std::optional<T>(std::move(value)));
      return push_status::pushed;
    }
    if (items_.size() >= capacity_) return push_status::full;
    items_.push_back(std::move(value));
    return push_status::pushed;
  }

  // Completes when `value` is in the queue, or with errc::closed (the value is dropped and the
  // caller learns it was not accepted).
  template <class Token = asio::use_awaitable_t<>>
  auto async_push(T value, Token&& token = {}) {
    return asio::async_initiate<Token, push_signature>(
        [self = this->shared_from_this()](auto handler, T v) mutable {
          self->start_push(std::move(v), std::move(handler));
        },
        token, std::move(value));
  }

  std::optional<T> try_pop() {
    std::unique_lock lock(mutex_);
    return pop_locked(lock);
  }

  // Completes with the next item, or with an empty optional once the queue is closed and
  // drained.
  template <class Token = asio::use_awaitable_t<>>
  auto async_pop(Token&& token = {}) {
    return asio::async_initiate<Token, pop_signature>(
        [self = this->shared_from_this()](auto handler) mutable { self->start_pop(std::move(handler)); }, token);
  }

  // Stops intake. Items already queued stay poppable; waiting pushers fail with errc::closed.
  void close() {
    std::unique_lock lock(mutex_);
    closed_ = true;
    auto pops = std::move(pop_waiters_);
    auto pushes = std::move(push_waiters_);
    lock.unlock();
    for (auto& w : pops) complete(w.executor, std::move(w.handler), boost::system::error_code{}, std::optional<T>{});
    for (auto& w : pushes) complete(w.executor, std::move(w.handler), make_error_code(errc::closed));
  }

  // Closes and takes out what was still queued, for the owner to account for.
  std::deque<T> close_and_take() {
    close();
    std::lock_guard lock(mutex_);
    return std::exchange(items_, {});
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  explicit async_queue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // A waiter keeps its handler's executor beside the type-erased handler: completion is
  // posted there.
  struct pop_waiter {
    std::uint64_t id;
    asio::any_io_executor executor;
    asio::any_completion_handler<pop_signature> handler;
  };
  struct push_waiter {
    std::uint64_t id;
    T value;
    asio::any_io_executor executor;
    asio::any_completion_handler<push_signature> handler;
  };

  template <class Handler>
  static asio::any_io_executor executor_of(const Handler& handler) {
    return asio::get_associated_executor(handler, asio::system_executor());
  }

  template <class W>
  static W take_front(std::list<W>& list) {
    W w = std::move(list.front());
    list.pop_front();
    return w;
  }

  // Takes the front item and, if a pusher waits for room, moves its value in.
  std::optional<T> pop_locked(std::unique_lock<std::mutex>& lock) {
    if (items_.empty()) return std::nullopt;
    std::optional<T> v(std::move(items_.front()));
    items_.pop_front();
    if (!push_waiters_.empty()) {
      auto w = take_front(push_waiters_);
      items_.push_back(std::move(w.value));
      lock.unlock();
      complete(w.executor, std::move(w.handler), boost::system::error_code{});
    }
    return v;
  }

  template <class Handler>
  void start_pop(Handler handler) {
    std::unique_lock lock(mutex_);
    if (auto v = pop_locked(lock)) {
      if (lock.owns_lock()) lock.unlock();
      complete(executor_of(handler), std::move(handler), boost::system::error_code{}, std::move(v));
      return;
    }
    if (closed_) {
      lock.unlock();
      complete(executor_of(handler), std::move(handler), boost::system::error_code{}, std::optional<T>{});
      return;
    }
    const auto id = ++next_id_;
    auto ex = executor_of(handler);
    asio::any_completion_handler<pop_signature> erased(std::move(handler));
    arm_cancellation(erased, &async_queue::cancel_pop, id);
    pop_waiters_.push_back(pop_waiter{id, std::move(ex), std::move(erased)});
  }

  template <class Handler>
  void start_push(T value, Handler handler) {
    std::unique_lock lock(mutex_);
    if (closed_) {
      lock.unlock();
      complete(executor_of(handler), std::move(handler), make_error_code(errc::closed));
      return;
    }
    if (!pop_waiters_.empty()) {
      auto w = take_front(pop_waiters_);
      lock.unlock();
      complete(w.executor, std::move(w.handler), boost::system::error_code{}, std::optional<T>(std::move(value)));
      complete(executor_of(handler), std::move(handler), boost::system::error_code{});
      return;
    }
    if (items_.size() < capacity_) {
      items_.push_back(std::move(value));
      lock.unlock();
      complete(executor_of(handler), std::move(handler), boost::system::error_code{});
      return;
    }
    const auto id = ++next_id_;
    auto ex = executor_of(handler);
    asio::any_completion_handler<push_signature> erased(std::move(handler));
    arm_cancellation(erased, &async_queue::cancel_push, id);
    push_waiters_.push_back(push_waiter{id, std::move(value), std::move(ex), std::move(erased)});
  }

  // The handler installed in the waiter's cancellation slot finds the waiter by id, so a
  // stale one (its wait already completed) does nothing. It is armed on the type-erased
  // handler: any_completion_handler puts a cancellation state of its own into the original
  // slot when it is made, which would replace a handler installed there before.
  template <class Handler>
  void arm_cancellation(Handler& handler, void (async_queue::*cancel)(std::uint64_t), std::uint64_t id) {
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (!slot.is_connected()) return;
    slot.assign([self = this->shared_from_this(), cancel, id](asio::cancellation_type type) {
      if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                   asio::cancellation_type::total)) != asio::cancellation_type::none)
        ((*self).*cancel)(id);
    });
  }

  template <class W>
  std::optional<W> remove_waiter(std::list<W>& list, std::uint64_t id) {
    std::lock_guard lock(mutex_);
    for (auto it = list.begin(); it != list.end(); ++it) {
      if (it->id == id) {
        W w = std::move(*it);
        list.erase(it);
        return w;
      }
    }
    return std::nullopt;
  }

  void cancel_pop(std::uint64_t id) {
    if (auto w = remove_waiter(pop_waiters_, id))
      complete(w->executor, std::move(w->handler), make_error_code(asio::error::operation_aborted), std::optional<T>{});
  }

  void cancel_push(std::uint64_t id) {
    if (auto w = remove_waiter(push_waiters_, id))
      complete(w->executor, std::move(w->handler), make_error_code(asio::error::operation_aborted));
  }

  // Runs the handler on its own executor, as if posted: never inside push() or close().
  template <class Handler, class... Args>
  static void complete(const asio::any_io_executor& ex, Handler&& handler, Args&&... args) {
    asio::post(ex,
               [h = std::move(handler), ... a = std::forward<Args>(args)]() mutable { std::move(h)(std::move(a)...); });
  }

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<T> items_;
  std::list<pop_waiter> pop_waiters_;
  std::list<push_waiter> push_waiters_;
  std::uint64_t next_id_ = 0;
  bool closed_ = false;
};

// Waits for room in `q` and pushes `value` (errc::closed once it is closed); with
// on_cancel::ignore the waiting coroutine's cancellation does not reach the wait.
template <class T>
asio::awaitable<void> push_waiting(async_queue<T>& q, T value, on_cancel cancel) {
  if (cancel == on_cancel::abort)
    co_await q.async_push(std::move(value));
  else
    co_await q.async_push(std::move(value),
                          asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
}

}  // namespace corobus
