#pragma once
// How one dead letter is written when writes fail: pure state, no I/O, so every rule is
// unit-tested without a broker. bus_state::dead_letter carries out what it decides.
//
// A failed write is one of three kinds (the backend says which, backend::classify):
//  - too_large: the record exceeds what the transport takes (the letter was already cut to
//    the limits the backend knows, dead_letter.hpp; a broker may take less, such as a Kafka
//    topic's max.message.bytes). The letter's copy of the original value is halved and
//    written again at once; once it is empty, the letter is written bare (no original
//    headers, no key); its origin headers still point at the whole record.
//  - transient: the cluster may take it later (timeouts, leader moves, brokers down). Tried
//    again with a doubling backoff while the message stays in flight, in its lane.
//  - refused: it will not take it until someone acts (authorization, a missing topic), or
//    a transient failure lasted until the backoff reached its maximum. The message is then
//    held: never committed past, counted in metrics().held, logged at a bounded rate, and
//    tried again every max_backoff, off its lane so that the other keys go on.
#include <corobus/eventbus/config.hpp>

#include <chrono>
#include <cstddef>
#include <optional>

namespace corobus::detail {

enum class write_failure { too_large, transient, refused };

class dead_letter_plan {
 public:
  using clock = std::chrono::steady_clock;

  // `value_budget`: the bytes of the original value the first write may carry.
  dead_letter_plan(const dead_letter_policy& policy, std::size_t value_budget);

  std::size_t value_budget() const noexcept { return budget_; }
  bool bare() const noexcept { return bare_; }
  bool held() const noexcept { return held_since_.has_value(); }
  unsigned failures() const noexcept { return failures_; }

  struct step {
    std::chrono::milliseconds wait{0};  // before the next write
    bool now_held = false;              // this failure made the message held
    bool log = false;                   // say so in the log (bounded rate while held)
    bool give_up = false;               // policy.give_up_after passed: count it lost, move on
  };
  step failed(write_failure f, clock::time_point now);

 private:
  const dead_letter_policy& policy_;
  std::size_t budget_;
  bool bare_ = false;
  unsigned failures_ = 0;
  std::chrono::milliseconds backoff_;
  std::optional<clock::time_point> held_since_;
  clock::time_point last_log_{};
};

}  // namespace corobus::detail
