#pragma once
// A librdkafka queue that wakes a coroutine instead of blocking a thread.
//
// rd_kafka_queue_io_event_enable makes librdkafka write 8 bytes to an eventfd when the queue
// goes from empty to non-empty. Two pitfalls shape this class:
//  - the write happens only on that transition, so the owner must drain the queue completely
//    (poll() until it returns null) before waiting again, or an event is stranded;
//  - the wait is an async_read_some of the 8 bytes, not async_wait(wait_read): asio's epoll
//    reactor is edge-triggered, and a readiness edge that arrives while no wait is pending
//    is lost, whereas the eventfd counter stays readable until it is read.
// The io event must be enabled on the final queue of a forwarding chain (for a consumer: the
// consumer queue, after rd_kafka_poll_set_consumer).
#include <corobus/awaitables/kafka/handles.hpp>
#include <corobus/runtime/asio.hpp>
#include <corobus/runtime/async_op.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <cstdint>

namespace corobus::kafka {

class event_queue {
 public:
  // Takes `queue` and wakes coroutines running on `ex`.
  event_queue(asio::any_io_executor ex, queue_ptr queue);
  ~event_queue();  // turns the io event off before the eventfd closes

  event_queue(const event_queue&) = delete;
  event_queue& operator=(const event_queue&) = delete;

  rd_kafka_queue_t* get() const noexcept { return queue_.get(); }

  // The next event, or null when the queue is empty. Never blocks.
  event_ptr poll() noexcept { return event_ptr(rd_kafka_queue_poll(queue_.get(), 0)); }

  asio::any_io_executor get_executor() noexcept { return wake_.get_executor(); }

  // Completes (void(error_code)) when an event may have arrived since the previous wait.
  // Cancelled, it completes with operation_aborted.
  template <class Token = default_token>
  auto async_wait(Token&& token = {}) {
    return launch(wait_op(), std::forward<Token>(token), start_on(wake_.get_executor()));
  }

  // Has `other` (a queue of the same client, outliving this object's use of it) wake the same
  // waits: an event there completes async_wait() as one here does.
  void also_wake_for(rd_kafka_queue_t* other) noexcept;

  // Cancels a pending wait. On the queue's executor only.
  void cancel() { wake_.cancel(); }

 private:
  asio::awaitable<void> wait_op();

  queue_ptr queue_;
  asio::posix::stream_descriptor wake_;
  std::array<std::uint64_t, 1> counter_{};
};

}  // namespace corobus::kafka
