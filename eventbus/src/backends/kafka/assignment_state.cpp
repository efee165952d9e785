#include "backends/kafka/assignment_state.hpp"

namespace corobus::detail {

void assignment_state::rebalance_arrived() {
  ++generation_;
  rebalance_pending_since_.reset();
}

assignment_state::actions assignment_state::assigned(const std::vector<partition_id>& partitions) {
  rebalance_arrived();
  actions out;
  for (const auto& p : partitions) {
    // A partition given up in the revoke just before goes on from where its work here ended,
    // not from the group's commit: the revoke's commit may have been refused (the broker
    // refuses commits while a rebalance is pending), and reading from the older one would
    // hand this member its own work again.
    const auto it = given_up_.find(p);
    out.start.push_back({p, it == given_up_.end() ? std::nullopt : std::optional(it->second)});
    owned_[p] = false;
    if (window_closed_) out.pause.push_back(p);
  }
  given_up_.clear();
  return out;
}

assignment_state::actions assignment_state::revoked(const std::vector<start_position>& positions) {
  rebalance_arrived();
  actions out;
  given_up_.clear();
  for (const auto& [p, position] : positions) {
    const auto it = owned_.find(p);
    if (it == owned_.end()) continue;
    if (paused(it->second)) out.resume.push_back(p);  // librdkafka would keep the pause (see above)
    if (position) given_up_[p] = *position;
    owned_.erase(it);
  }
  return out;
}

assignment_state::actions assignment_state::holding(const partition_id& p, bool holds) {
  actions out;
  const auto it = owned_.find(p);
  if (it == owned_.end() || it->second == holds) return out;
  const bool was_paused = paused(it->second);
  it->second = holds;
  if (paused(holds) != was_paused) (holds ? out.pause : out.resume).push_back(p);
  return out;
}

assignment_state::actions assignment_state::window_full() {
  actions out;
  if (window_closed_) return out;
  for (const auto& [p, holds] : owned_)
    if (!holds) out.pause.push_back(p);
  window_closed_ = true;
  return out;
}

assignment_state::actions assignment_state::window_open() {
  actions out;
  if (!window_closed_) return out;
  window_closed_ = false;
  for (const auto& [p, holds] : owned_)
    if (!holds) out.resume.push_back(p);
  return out;
}

void assignment_state::commit_refused_for_rebalance(std::uint64_t generation, time_point now) {
  // A refusal of a commit sent before the last rebalance announces that one, which came.
  if (generation == generation_) rebalance_announced(now);
}

void assignment_state::rebalance_announced(time_point now) {
  if (!rebalance_pending_since_) rebalance_pending_since_ = now;
}

bool assignment_state::holds(const partition_id& p) const {
  const auto it = owned_.find(p);
  return it != owned_.end() && it->second;
}

}  // namespace corobus::detail
