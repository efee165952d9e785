#pragma once
// Writes failed messages to `<topic>.dlq` (make_dead_letter: the error and the origin in
// headers), following dead_letter_plan when a write fails: cut to fit, tried again in place
// while transient, else held and tried again by a task of its own while the caller goes on.
// Each message ends counted once: dead-lettered, held then any of these, abandoned (the bus
// closes), rebalanced (its partition moved) or lost (given up).
#include <corobus/eventbus/config.hpp>
#include <corobus/runtime/io_pool.hpp>
#include <corobus/runtime/task_scope.hpp>
#include "core/backend.hpp"
#include "core/counters.hpp"
#include "core/incoming_message.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace corobus::detail {

class dead_letter_writer {
 public:
  // `closing` is the bus's flag: once it is set a message is no longer written (nor committed
  // past, so a broker delivers it again).
  dead_letter_writer(const dead_letter_policy& policy, detail::backend& backend, io_pool& pool, counters& stats,
                     const std::atomic<bool>& closing);

  // Writes `in`, which failed with `error` after `attempts`; the message is then done.
  asio::awaitable<void> write(incoming_message in, std::string error, unsigned attempts);
  // The same for a payload that is no envelope (counted as undecodable too).
  asio::awaitable<void> write_undecodable(incoming_message in, std::string error);

  // Held letters are not tried again from now on (close begins), then their tasks are joined.
  void stop_holding() { held_.cancel(); }
  void wait_idle() { held_.wait_idle(); }
  std::size_t live() const noexcept { return held_.live(); }

 private:
  struct pending_dead_letter;
  enum class write_outcome { ended, held };
  // Writes until the letter is written or the message ends otherwise (ended), or it became
  // held (then the caller hands it to held_).
  asio::awaitable<write_outcome> attempt_dead_letter(pending_dead_letter& p, std::chrono::milliseconds wait);
  asio::awaitable<void> write_held_dead_letter(std::unique_ptr<pending_dead_letter> p);
  // True when `p` ended because the bus closes or its partition moved; counted so.
  bool dead_letter_overtaken(pending_dead_letter& p, std::string_view failure);

  const dead_letter_policy& policy_;
  detail::backend& backend_;
  io_pool& pool_;
  counters& stats_;
  const std::atomic<bool>& closing_;
  task_scope held_;  // held dead letters, tried until written
};

}  // namespace corobus::detail
