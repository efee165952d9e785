#pragma once
// Lanes: keyed ordering that holds with asynchronous handlers.
//
// A strand alone does not keep order: a coroutine handler that suspends releases the strand
// and the next item of the same key would start. A lane is therefore one coroutine on its own
// strand that pops from a bounded queue and awaits `process(item)` to completion before it
// pops the next. Items are routed to a queue by a stable hash of their key.
//
// One shape serves both uses:
//   keyed(lanes)           lanes queues, one consumer each: per-key order
//   unordered(concurrency) one queue, `concurrency` consumers: no order, bounded parallelism
//
// close() stops intake; the consumers finish what is queued and end. A consumer that sees
// terminal cancellation stops taking items; what is left is returned by take_abandoned().
//
// interrupt_if() cancels single items being processed (partial cancellation of their
// consumer's current wait) and the consumers go on with the next. For that, each consumer
// owns its cancellation signal; the scope's cancellation is forwarded into it.
#include <corobus/runtime/async_queue.hpp>
#include <corobus/runtime/io_pool.hpp>
#include <corobus/runtime/log.hpp>
#include <corobus/runtime/task_scope.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace corobus {

struct lane_shape {
  std::size_t queues = 1;
  std::size_t consumers_per_queue = 1;
  std::size_t capacity = 1;  // items each queue holds before push waits

  static lane_shape keyed(std::size_t lanes, std::size_t capacity) { return {lanes, 1, capacity}; }
  static lane_shape unordered(std::size_t concurrency, std::size_t capacity) { return {1, concurrency, capacity}; }
};

template <class T>
class lane_group {
 public:
  // Gets the item by reference: it stays in its consumer (for interrupt_if) until done.
  using process_fn = std::function<asio::awaitable<void>(T&)>;

  // Starts the consumers in `scope` on strands of `pool`. `name` labels them in logs.
  lane_group(task_scope& scope, io_pool& pool, lane_shape shape, process_fn process, const std::string& name)
      : process_(std::make_shared<process_fn>(std::move(process))) {
    queues_.reserve(shape.queues);
    for (std::size_t q = 0; q < shape.queues; ++q) queues_.push_back(async_queue<T>::create(shape.capacity));
    try {
      for (std::size_t q = 0; q < shape.queues; ++q)
        for (std::size_t c = 0; c < shape.consumers_per_queue; ++c) {
          auto consumer = std::make_shared<consumer_state>(pool.make_strand());
          consumers_.push_back(consumer);
          scope.spawn(consumer->strand, run(queues_[q], process_, consumer), name);
        }
    } catch (...) {
      close();  // the consumers already started end on the closed queues
      throw;
    }
  }

  ~lane_group() { close(); }
  lane_group(const lane_group&) = delete;
  lane_group& operator=(const lane_group&) = delete;

  async_queue<T>& queue_for(std::uint32_t key_hash) { return *queues_[key_hash % queues_.size()]; }

  // The fast path: false when the lane is full (or closed; see push_status).
  push_status try_push(std::uint32_t key_hash, T& item) { return queue_for(key_hash).try_push(item); }

  // Waits while the lane is full; throws system_error(errc::closed) after close().
  asio::awaitable<void> push(std::uint32_t key_hash, T item, on_cancel cancel = on_cancel::abort) {
    auto& q = queue_for(key_hash);
    if (q.try_push(item) == push_status::pushed) co_return;
    co_await push_waiting(q, std::move(item), cancel);
  }

  void close() {
    for (auto& q : queues_) q->close();
  }

  // Cancels the processing of every item that `matches` (asked on its consumer's strand,
  // while the item is being processed there); its consumer then goes on with its next item.
  void interrupt_if(std::function<bool(const T&)> matches) {
    auto shared = std::make_shared<std::function<bool(const T&)>>(std::move(matches));
    for (const auto& weak : consumers_)
      if (auto consumer = weak.lock())
        asio::post(consumer->strand, [consumer, shared] {
          if (consumer->current && (*shared)(*consumer->current))
            consumer->signal.emit(asio::cancellation_type::partial);
        });
  }

  // After the consumers ended: the items no consumer took (close and cancellation).
  std::vector<T> take_abandoned() {
    std::vector<T> left;
    for (auto& q : queues_)
      for (auto& item : q->close_and_take()) left.push_back(std::move(item));
    return left;
  }

 private:
  struct consumer_state {
    explicit consumer_state(asio::strand<io_pool::executor_type> s) : strand(std::move(s)) {}
    asio::strand<io_pool::executor_type> strand;
    asio::cancellation_signal signal;  // touched on `strand` only
    T* current = nullptr;              // the item being processed, on `strand` only
  };

  // The consumer's own signal carries the scope's cancellation and interrupt_if()'s.
  static asio::awaitable<void> run(std::shared_ptr<async_queue<T>> queue, std::shared_ptr<process_fn> process,
                                   std::shared_ptr<consumer_state> consumer) {
    auto cs = co_await asio::this_coro::cancellation_state;
    cs.slot().assign([consumer](asio::cancellation_type type) { consumer->signal.emit(type); });
    co_await asio::co_spawn(consumer->strand, consume(std::move(queue), std::move(process), consumer),
                            asio::bind_cancellation_slot(consumer->signal.slot(), asio::use_awaitable));
  }

  static asio::awaitable<void> consume(std::shared_ptr<async_queue<T>> queue, std::shared_ptr<process_fn> process,
                                       std::shared_ptr<consumer_state> consumer) {
    constexpr auto stop = asio::cancellation_type::terminal;
    co_await asio::this_coro::reset_cancellation_state(asio::enable_partial_cancellation());
    for (;;) {
      auto cs = co_await asio::this_coro::cancellation_state;
      if ((cs.cancelled() & stop) != asio::cancellation_type::none) co_return;
      auto item = queue->try_pop();
      if (!item) {
        // No structured binding here: g++ 12 mishandles one bound to a co_await result.
        auto popped = co_await queue->async_pop(asio::as_tuple(asio::use_awaitable));
        if (std::get<0>(popped) || !std::get<1>(popped)) co_return;  // cancelled, or closed and drained
        item = std::move(std::get<1>(popped));
      }
      // `process` handles its own failures; should one escape anyway, the lane goes on,
      // because a lane that ended would stall every later item of its keys.
      consumer->current = &*item;
      try {
        co_await (*process)(*item);
      } catch (const std::exception& e) {
        log().error("lane item processing failed: {}", e.what());
      }
      consumer->current = nullptr;
      // Interrupted (partial): the next item starts with a clean state. Once cancelled, asio
      // would throw from every further co_await of this coroutine.
      if (cs.cancelled() != asio::cancellation_type::none && (cs.cancelled() & stop) == asio::cancellation_type::none)
        co_await asio::this_coro::reset_cancellation_state(asio::enable_partial_cancellation());
    }
  }

  std::shared_ptr<process_fn> process_;
  std::vector<std::shared_ptr<async_queue<T>>> queues_;
  // Weak: a strand must not outlive its pool, and this group may (the consumers own them).
  std::vector<std::weak_ptr<consumer_state>> consumers_;
};

}  // namespace corobus
