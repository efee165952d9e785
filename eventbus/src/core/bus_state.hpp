#pragma once
// The state a bus and everything it started share, in parts named by their role: the io pool
// and the task scope (lifecycle and close, here), the counters, the one hand-off, the
// backend, the dead-letter writer and the subscription registry. The public `bus` is its
// only owner; streams and deliveries hold weak references.
#include <corobus/eventbus/config.hpp>
#include <corobus/runtime/io_pool.hpp>
#include <corobus/runtime/task_scope.hpp>
#include "core/backend.hpp"
#include "core/counters.hpp"
#include "core/dead_letter_writer.hpp"
#include "core/handoff.hpp"
#include "core/incoming_message.hpp"
#include "core/subscription_registry.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace corobus::detail {

class bus_state : public std::enable_shared_from_this<bus_state> {
 public:
  explicit bus_state(config cfg);
  ~bus_state();

  const corobus::config& cfg() const noexcept { return cfg_; }
  io_pool& pool() noexcept { return pool_; }
  task_scope& scope() noexcept { return scope_; }
  std::size_t live_tasks() const noexcept { return scope_.live() + dead_letters_.live(); }
  counters& stats() noexcept { return stats_; }
  detail::backend& backend() noexcept { return *backend_; }
  dead_letter_writer& dead_letters() noexcept { return dead_letters_; }

  // Throws system_error(errc::closed) once close() began; `what` says what was refused.
  void ensure_open(std::string_view what) const;
  bool closing() const noexcept { return closing_.load(std::memory_order_acquire); }

  // The group of an unnamed subscription to `topic` (see config::anonymous_group_prefix).
  std::string anonymous_group(const std::string& topic);

  // Starts `sub` and registers it, so that close() will close it; throws errc::closed once
  // close() began (then `sub` was not started).
  void add_subscriber(const std::shared_ptr<subscriber>& sub);
  // Stops feeding `sub` and forgets it. What it accepted is still handled if it drains
  // itself, and counted as abandoned if not. Idempotent; a no-op once close() began. Never
  // throws: a stream handle's destructor calls it.
  void remove_subscriber(const std::shared_ptr<subscriber>& sub) noexcept;

  // A message is done: its handler succeeded, or it was acked.
  void settle(const incoming_message& in) noexcept;
  // A stale message (its partition moved to another consumer) is dropped unhandled.
  void drop_stale(const incoming_message& in) noexcept;
  // A message that will not be handled (close): counted and logged by the caller's summary.
  void abandon(std::size_t n) noexcept;

  // The close sequence of the design; idempotent, concurrent callers wait for the same end.
  // Not from an io thread of this bus.
  void close();

 private:
  void close_once();

  corobus::config cfg_;
  counters stats_;
  std::atomic<bool> closing_{false};
  detail::handoff handoff_{stats_, closing_};
  io_pool pool_;
  task_scope scope_;
  std::unique_ptr<detail::backend> backend_;
  dead_letter_writer dead_letters_;
  subscription_registry subscriptions_{closing_};
  std::once_flag close_once_;
};

}  // namespace corobus::detail
