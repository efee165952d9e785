#include <corobus/runtime/error.hpp>
#include <corobus/runtime/task_scope.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/system/system_error.hpp>
#include <corobus/runtime/log.hpp>

#include <vector>

namespace corobus {

task_scope::~task_scope() { wait_idle(); }

std::shared_ptr<task_scope::task> task_scope::try_admit(asio::any_io_executor ex, std::string&& name) {
  auto t = std::make_shared<task>();  // outside the lock every task start takes
  std::lock_guard lock(mutex_);
  if (cancelled_) return nullptr;
  t->executor = std::move(ex);
  t->name = std::move(name);
  t->position = tasks_.insert(tasks_.end(), t);
  const auto now = live_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (now > peak_.load(std::memory_order_relaxed)) peak_.store(now, std::memory_order_relaxed);
  started_.fetch_add(1, std::memory_order_relaxed);
  return t;
}

void task_scope::throw_refused(const std::string& name) {
  throw_error(errc::closed, "task scope is closed: cannot start '" + name + "'");
}

void task_scope::start(const std::shared_ptr<task>& t, asio::awaitable<void> body) noexcept {
  try {
    asio::co_spawn(t->executor, std::move(body),
                   asio::bind_cancellation_slot(t->signal.slot(), [this, t](std::exception_ptr e) { finish(t, e); }));
  } catch (...) {
    finish(t, std::current_exception());
  }
}

void task_scope::finish(const std::shared_ptr<task>& t, std::exception_ptr e) noexcept {
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& ex) {
      // A service loop that runs until cancelled ends this way: the expected end, not an error.
      if (ex.code() == asio::error::operation_aborted && cancelled())
        log().debug("task '{}' ended by cancellation", t->name);
      else
        log().error("task '{}' ended with an exception: {}", t->name, ex.what());
    } catch (const std::exception& ex) {
      log().error("task '{}' ended with an exception: {}", t->name, ex.what());
    } catch (...) {
      log().error("task '{}' ended with an unknown exception", t->name);
    }
  }
  std::lock_guard lock(mutex_);
  tasks_.erase(t->position);
  if (live_.fetch_sub(1, std::memory_order_relaxed) == 1) idle_.notify_all();
}

void task_scope::cancel() {
  std::vector<std::shared_ptr<task>> targets;
  {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    targets.assign(tasks_.begin(), tasks_.end());
  }
  // A cancellation signal is not thread-safe: emit it where the task runs.
  for (auto& t : targets) {
    asio::dispatch(t->executor, [t] { t->signal.emit(asio::cancellation_type::terminal); });
  }
}

bool task_scope::cancelled() const noexcept {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

bool task_scope::wait_idle_for(std::chrono::steady_clock::duration timeout) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return tasks_.empty(); });
}

void task_scope::wait_idle() {
  std::unique_lock lock(mutex_);
  while (!idle_.wait_for(lock, std::chrono::seconds(5), [this] { return tasks_.empty(); })) {
    std::string names;
    for (const auto& t : tasks_) names += (names.empty() ? "'" : ", '") + t->name + "'";
    log().warn("still waiting for {} task(s) to end: {}", tasks_.size(), names);
  }
}

}  // namespace corobus
