#pragma once
#include <corobus/eventbus/metrics.hpp>

#include <corobus/runtime/striped_counter.hpp>

#include <cstdint>

namespace corobus::detail {

// The live counters behind metrics_snapshot, bumped on the hot path by publishers and
// handlers on every io thread, so each is striped per thread. Nothing counts "in flight"
// directly (one more shared write per message): it is accepted minus everything finished.
struct counters {
  striped_counter published;
  striped_counter publish_errors;
  striped_counter unrouted;
  striped_counter accepted;  // taken by a subscription
  striped_counter delivered;
  striped_counter retried;
  striped_counter dead_lettered;
  striped_counter undecodable;
  striped_counter held;  // up and down: messages held now
  striped_counter lost;
  striped_counter abandoned;
  striped_counter rebalanced;
  striped_counter given_back;

  metrics_snapshot snapshot() const noexcept {
    metrics_snapshot s;
    s.published = published.load();
    s.publish_errors = publish_errors.load();
    s.unrouted = unrouted.load();
    s.delivered = delivered.load();
    s.retried = retried.load();
    s.dead_lettered = dead_lettered.load();
    s.undecodable = undecodable.load();
    s.held = held.load();
    s.lost = lost.load();
    s.abandoned = abandoned.load();
    s.rebalanced = rebalanced.load();
    s.given_back = given_back.load();
    const auto finished = s.delivered + s.dead_lettered + s.held + s.lost + s.abandoned + s.rebalanced;
    s.in_flight = static_cast<std::int64_t>(accepted.load() - finished);
    return s;
  }
};

}  // namespace corobus::detail
