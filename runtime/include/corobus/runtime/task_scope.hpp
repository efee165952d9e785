#pragma once
// A task scope owns every coroutine a bus starts (Seastar's gate, Boost.MySQL's wait group):
// each is counted while it lives and bound to its own cancellation signal, which the scope's
// root cancellation reaches. asio's cancellation_signal feeds exactly one slot, so the root
// fans out to one child signal per live task.
//
// Closing is the owner's sequence: stop feeding work, wait_idle_for(grace), cancel(), then
// wait_idle(). After cancel() the scope admits no new task.
#include <corobus/runtime/asio.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <list>
#include <memory>
#include <mutex>
#include <string>

namespace corobus {

class task_scope {
 public:
  task_scope() = default;
  // The owner waits for idle before destroying the scope; a scope destroyed with live tasks
  // would leave them pointing at it, so the destructor waits too.
  ~task_scope();

  task_scope(const task_scope&) = delete;
  task_scope& operator=(const task_scope&) = delete;

  // Starts `task` on `ex`, counted and cancellable. `ex` should be a strand (or another
  // executor that runs one handler at a time), because cancellation is emitted through it.
  // Throws system_error(errc::closed) once the scope was cancelled. `name` appears in the log
  // line written if the task ends with an exception.
  template <class Executor>
  void spawn(const Executor& ex, asio::awaitable<void> task, std::string name) {
    auto t = try_admit(asio::any_io_executor(ex), std::move(name));
    if (!t) throw_refused(name);
    // The task's signal is only touched on its executor: the slot is bound there, and
    // cancel() emits there. A task that reaches its executor after cancel() never starts.
    asio::dispatch(ex, [this, t, task = std::move(task)]() mutable {
      if (cancelled()) return finish(t, nullptr);
      start(t, std::move(task));
    });
  }

  // Starts one call of the owner's API (see async_op.hpp) as a task: what make_task()
  // returns, on `ex`. Once the scope was cancelled it returns false without calling
  // make_task. Unlike spawn(), an admitted call starts even if cancel() reaches its executor
  // first: its body sees that the owner closed and completes, so the caller always hears
  // back. Cancellation emitted into `also` (the call's own slot) reaches it as well, until
  // the call clears that slot as it completes.
  template <class Executor, class MakeTask>
  bool spawn_call(const Executor& ex, MakeTask make_task, std::string name, asio::cancellation_slot also) {
    auto t = try_admit(asio::any_io_executor(ex), std::move(name));
    if (!t) return false;
    if (also.is_connected())
      also.assign(
          [t](asio::cancellation_type type) { asio::dispatch(t->executor, [t, type] { t->signal.emit(type); }); });
    asio::dispatch(ex, [this, t, task = make_task()]() mutable { start(t, std::move(task)); });
    return true;
  }

  // Emits terminal cancellation to every live task (on each task's executor) and refuses new
  // ones. Idempotent.
  void cancel();
  bool cancelled() const noexcept;

  // Blocks until no task lives, or `timeout` passed; true when idle. Not from a task itself.
  bool wait_idle_for(std::chrono::steady_clock::duration timeout);
  // Blocks until no task lives; every few seconds it logs the tasks it still waits for.
  void wait_idle();

  std::size_t live() const noexcept { return live_.load(std::memory_order_relaxed); }
  std::size_t peak() const noexcept { return peak_.load(std::memory_order_relaxed); }
  std::size_t started() const noexcept { return started_.load(std::memory_order_relaxed); }

 private:
  struct task {
    asio::any_io_executor executor;
    asio::cancellation_signal signal;
    std::string name;
    std::list<std::shared_ptr<task>>::iterator position;
  };

  // Counts a new task; null once the scope was cancelled.
  std::shared_ptr<task> try_admit(asio::any_io_executor ex, std::string&& name);  // takes `name` only then
  [[noreturn]] static void throw_refused(const std::string& name);
  // co_spawns `body` on the task's executor, bound to its signal. On that executor.
  void start(const std::shared_ptr<task>& t, asio::awaitable<void> body) noexcept;
  void finish(const std::shared_ptr<task>& t, std::exception_ptr e) noexcept;

  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::list<std::shared_ptr<task>> tasks_;
  bool cancelled_ = false;
  std::atomic<std::size_t> live_{0};
  std::atomic<std::size_t> peak_{0};
  std::atomic<std::size_t> started_{0};
};

}  // namespace corobus
