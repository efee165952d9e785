#include "backends/kafka/fetch_window.hpp"

#include <algorithm>

namespace corobus::detail {

std::size_t fetch_window::room(std::size_t uncommitted) const noexcept {
  return uncommitted >= max_ ? 1 : std::min(max_batch, max_ - uncommitted);
}

fetch_window::plan fetch_window::decide(const view& v) const noexcept {
  plan p;
  p.forget_rebalance = v.rebalance_pending && v.pending_for >= rebalance_wait;
  const bool for_rebalance = v.rebalance_pending && !p.forget_rebalance;
  // A position already handed out is not sent twice; what is held drops only when the
  // broker's answer says stored.
  p.commit = v.uncommitted >= max_ / 2;
  if (v.paused) {
    if (!for_rebalance && v.uncommitted <= max_ / 2) {
      p.then = plan::next::resume;
    } else {
      p.then = plan::next::wait;
      if (for_rebalance) p.wait_at_most = rebalance_wait - v.pending_for;
    }
    return p;
  }
  if (for_rebalance || (v.uncommitted >= max_ && v.waited >= hold_before_pause)) {
    p.then = plan::next::pause;
    return p;
  }
  if (v.uncommitted < max_) return p;  // fetch
  p.then = plan::next::wait;
  p.wait_at_most = hold_before_pause - v.waited;
  return p;
}

}  // namespace corobus::detail
