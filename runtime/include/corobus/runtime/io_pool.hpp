#pragma once
// A fixed set of threads running one io_context. Its owner starts it and shuts it down; no
// thread outlives shutdown(), which also destroys the io_context, so its descriptors (epoll,
// eventfd, timerfd) are closed when it returns.
#include <corobus/runtime/asio.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace corobus {

class io_pool {
 public:
  using executor_type = asio::io_context::executor_type;

  // `threads` == 0 means std::thread::hardware_concurrency().
  explicit io_pool(std::size_t threads = 0);
  ~io_pool();

  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  // Both throw system_error(errc::closed) after shutdown().
  executor_type get_executor();
  asio::strand<executor_type> make_strand();
  std::size_t size() const noexcept { return size_; }

  // True on one of this pool's threads (safe to ask from any thread, at any time).
  bool running_in_this_thread() const noexcept;

  // Lets the threads run out of work until `drain_deadline` (a coroutine that is resumed
  // during close, say by the end of a stream, can still finish), then stops the io_context,
  // joins the threads and destroys the io_context. Handlers still queued then are destroyed
  // without running. Every object holding one of its strands or timers must be gone by then.
  // Not from a pool thread. Idempotent.
  void shutdown(std::chrono::steady_clock::time_point drain_deadline = {});

 private:
  void start_threads();

  std::size_t size_;
  std::optional<asio::io_context> io_;
  std::vector<std::thread::id> thread_ids_;  // fixed once the constructor returns
  std::optional<asio::executor_work_guard<executor_type>> work_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable out_of_work_;
  std::size_t finished_ = 0;  // threads whose run() returned
};

}  // namespace corobus
