#include "core/dead_letter_plan.hpp"

#include <algorithm>

namespace corobus::detail {

dead_letter_plan::dead_letter_plan(const dead_letter_policy& policy, std::size_t value_budget)
    : policy_(policy), budget_(value_budget), backoff_(policy.initial_backoff) {}

dead_letter_plan::step dead_letter_plan::failed(write_failure f, clock::time_point now) {
  ++failures_;
  step s;
  if (f == write_failure::too_large && (budget_ > 0 || !bare_)) {
    if (budget_ > 0)
      budget_ /= 2;  // at once: nothing to wait for
    else
      bare_ = true;
    s.log = !held();
    return s;
  }
  if (!held()) {
    // A transient failure holds the message once waiting longer would not be any shorter.
    if (f == write_failure::transient && backoff_ < policy_.max_backoff) {
      s.wait = backoff_;
      backoff_ = std::min(backoff_ * 2, policy_.max_backoff);
      s.log = true;
      return s;
    }
    held_since_ = now;
    last_log_ = now;
    s.now_held = s.log = true;
    s.wait = policy_.max_backoff;
    return s;
  }
  if (policy_.give_up_after && now - *held_since_ >= *policy_.give_up_after) {
    s.give_up = s.log = true;
    return s;
  }
  s.wait = policy_.max_backoff;
  if (now - last_log_ >= policy_.log_interval) {
    last_log_ = now;
    s.log = true;
  }
  return s;
}

}  // namespace corobus::detail
