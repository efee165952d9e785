#pragma once
#include <corobus/eventbus/metrics.hpp>

#include <atomic>
#include <cstdint>

namespace corobus::detail {

// The live counters behind metrics_snapshot: relaxed atomics, each on its own cache line,
// because publishers and handlers bump them from different threads on the hot path. Nothing
// counts "in flight" directly (that would be one line written by every thread): it is
// accepted minus everything that finished.
struct counters {
  using counter = std::atomic<std::uint64_t>;
  alignas(64) counter published{0};
  alignas(64) counter publish_errors{0};
  alignas(64) counter accepted{0};  // taken by a subscription
  alignas(64) counter delivered{0};
  alignas(64) counter retried{0};
  alignas(64) counter dead_lettered{0};
  alignas(64) counter undecodable{0};
  alignas(64) counter lost{0};
  alignas(64) counter abandoned{0};

  static void bump(counter& c, std::uint64_t n = 1) noexcept { c.fetch_add(n, std::memory_order_relaxed); }
  static std::uint64_t read(const counter& c) noexcept { return c.load(std::memory_order_relaxed); }

  metrics_snapshot snapshot() const noexcept {
    metrics_snapshot s;
    s.published = read(published);
    s.publish_errors = read(publish_errors);
    s.delivered = read(delivered);
    s.retried = read(retried);
    s.dead_lettered = read(dead_lettered);
    s.undecodable = read(undecodable);
    s.lost = read(lost);
    s.abandoned = read(abandoned);
    const auto finished = s.delivered + s.dead_lettered + s.lost + s.abandoned;
    s.in_flight = static_cast<std::int64_t>(read(accepted)) - static_cast<std::int64_t>(finished);
    return s;
  }
};

}  // namespace corobus::detail
