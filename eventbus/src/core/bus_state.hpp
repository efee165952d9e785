#pragma once
// The state a bus and everything it started share: the io pool, the task scope, counters,
// the backend and the subscriptions. The public `bus` is its only owner; streams and
// deliveries hold weak references.
#include <corobus/eventbus/config.hpp>
#include <corobus/runtime/io_pool.hpp>
#include <corobus/runtime/task_scope.hpp>
#include "core/backend.hpp"
#include "core/counters.hpp"
#include "core/handoff.hpp"
#include "core/incoming_message.hpp"

#include <atomic>
#include <chrono>
#include <map>
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
  std::size_t live_tasks() const noexcept { return scope_.live() + held_.live(); }
  counters& stats() noexcept { return stats_; }
  detail::backend& backend() noexcept { return *backend_; }

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

  // For subscribers that want envelopes, on their own tasks (so decoding runs on every io
  // thread): decodes in.env from the payload when it is missing; false, with the reason in
  // `error`, when the payload is no envelope. Such a message then goes to
  // dead_letter_undecodable(). (Not a coroutine: it runs for every message, and only the
  // rare failure needs to wait.)
  bool decode_envelope(incoming_message& in, std::string& error);
  asio::awaitable<void> dead_letter_undecodable(incoming_message in, std::string error);

  // Writes `in` to `<topic>.dlq` with the error and its origin in headers (make_dead_letter);
  // the message is then done. Failed writes follow dead_letter_plan: cut to fit, tried again
  // in place while transient, else held and tried again by a task of held_ (the caller, a
  // lane, goes on). Ends with the message counted once: dead-lettered, held then any of
  // these, abandoned (the bus closes), rebalanced (its partition moved) or lost (given up).
  asio::awaitable<void> dead_letter(incoming_message in, std::string error, unsigned attempts);

  // The close sequence of the design; idempotent, concurrent callers wait for the same end.
  // Not from an io thread of this bus.
  void close();

 private:
  struct pending_dead_letter;
  enum class write_outcome { ended, held };
  // Writes until the letter is written or the message ends otherwise (ended), or it became
  // held (then the caller hands it to held_).
  asio::awaitable<write_outcome> attempt_dead_letter(pending_dead_letter& p, std::chrono::milliseconds wait);
  asio::awaitable<void> write_held_dead_letter(std::unique_ptr<pending_dead_letter> p);
  // True when `p` ended because the bus closes or its partition moved; counted so.
  bool dead_letter_overtaken(pending_dead_letter& p, std::string_view failure);
  void close_once();

  corobus::config cfg_;
  counters stats_;
  std::atomic<bool> closing_{false};
  detail::handoff handoff_{stats_, closing_};
  io_pool pool_;
  task_scope scope_;
  task_scope held_;  // held dead letters, tried until written; cancelled as close() begins
  std::unique_ptr<detail::backend> backend_;
  std::once_flag close_once_;
  std::mutex subscribers_mutex_;
  std::vector<std::shared_ptr<subscriber>> subscribers_;
  std::map<std::string, std::size_t> anonymous_groups_;  // per topic, under subscribers_mutex_
};

}  // namespace corobus::detail
