#pragma once
#include <corobus/eventbus/metrics.hpp>

#include <atomic>
#include <cstdint>

namespace corobus::detail {

// The live counters behind metrics_snapshot; relaxed atomics, bumped on the hot path.
struct counters {
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> publish_errors{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> retried{0};
  std::atomic<std::uint64_t> dead_lettered{0};
  std::atomic<std::uint64_t> undecodable{0};
  std::atomic<std::uint64_t> lost{0};
  std::atomic<std::uint64_t> abandoned{0};
  std::atomic<std::int64_t> in_flight{0};

  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.fetch_add(n, std::memory_order_relaxed);
  }

  metrics_snapshot snapshot() const noexcept {
    metrics_snapshot s;
    s.published = published.load(std::memory_order_relaxed);
    s.publish_errors = publish_errors.load(std::memory_order_relaxed);
    s.delivered = delivered.load(std::memory_order_relaxed);
    s.retried = retried.load(std::memory_order_relaxed);
    s.dead_lettered = dead_lettered.load(std::memory_order_relaxed);
    s.undecodable = undecodable.load(std::memory_order_relaxed);
    s.lost = lost.load(std::memory_order_relaxed);
    s.abandoned = abandoned.load(std::memory_order_relaxed);
    s.in_flight = in_flight.load(std::memory_order_relaxed);
    return s;
  }
};

}  // namespace corobus::detail
