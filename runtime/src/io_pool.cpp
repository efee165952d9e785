#include <corobus/runtime/error.hpp>
#include <corobus/runtime/io_pool.hpp>

#include <corobus/runtime/log.hpp>

#include <algorithm>
#include <stdexcept>

namespace corobus {

io_pool::io_pool(std::size_t threads)
    : size_(threads != 0 ? threads : std::max(1u, std::thread::hardware_concurrency())) {
  if (size_ > 1024) throw_error(errc::invalid_config, "io_threads must be at most 1024");
  io_.emplace(static_cast<int>(size_));
  work_.emplace(io_->get_executor());
  threads_.reserve(size_);
  try {
    start_threads();
  } catch (...) {  // joinable threads must not be destroyed: stop the ones that started
    io_->stop();
    for (auto& t : threads_) t.join();
    throw;
  }
  for (const auto& t : threads_) thread_ids_.push_back(t.get_id());
}

void io_pool::start_threads() {
  for (std::size_t i = 0; i < size_; ++i) {
    threads_.emplace_back([this] {
      // Library tasks catch their own errors; anything escaping a handler is a bug worth a
      // log line, and the thread goes on serving the pool.
      for (;;) {
        try {
          io_->run();
          std::lock_guard lock(mutex_);
          ++finished_;
          out_of_work_.notify_all();
          return;
        } catch (const std::exception& e) {
          log().error("unhandled exception on an io thread: {}", e.what());
        } catch (...) {
          log().error("unhandled exception on an io thread (not a std::exception)");
        }
      }
    });
  }
}

io_pool::~io_pool() { shutdown(); }

io_pool::executor_type io_pool::get_executor() {
  if (!io_) throw_error(errc::closed, "the io pool is shut down");
  return io_->get_executor();
}

asio::strand<io_pool::executor_type> io_pool::make_strand() { return asio::make_strand(get_executor()); }

bool io_pool::running_in_this_thread() const noexcept {
  return std::find(thread_ids_.begin(), thread_ids_.end(), std::this_thread::get_id()) != thread_ids_.end();
}

void io_pool::shutdown(std::chrono::steady_clock::time_point drain_deadline) {
  if (!io_) return;
  if (running_in_this_thread())
    throw std::logic_error("corobus::io_pool::shutdown() called from one of its own threads");
  work_.reset();
  {
    std::unique_lock lock(mutex_);
    out_of_work_.wait_until(lock, drain_deadline, [this] { return finished_ == threads_.size(); });
  }
  io_->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  io_.reset();
}

}  // namespace corobus
