#pragma once
// The Kafka consumer's in-flight window as pure state: how many records a poll may take, when
// to commit early, when to pause and resume fetching, and how long to wait for room. No I/O:
// kafka_group_consumer observes, asks decide(), and carries the plan out.
//
// Why a window: Kafka commits a partition only up to its first record not yet done, so the
// records taken and not yet committed are what a crash would hand out again. The window bounds
// them (kafka.max_in_flight). It commits at half full rather than at the next interval, so
// that it stays open at full speed; full, it is first waited out without polling (librdkafka
// stops fetching at its prefetch limit, so memory stays bounded) and only after a while are
// the partitions paused: librdkafka drops a paused partition's prefetched records, and a
// resumed one fetches again only when its broker thread next looks (up to a second later).
// A commit refused because a rebalance is pending pauses at once, until the rebalance arrives.
#include <chrono>
#include <cstddef>

namespace corobus::detail {

class fetch_window {
 public:
  using duration = std::chrono::steady_clock::duration;

  // What the consumer sees when it asks.
  struct view {
    std::size_t uncommitted = 0;     // taken, not yet stored by a commit (partitions holding a message excepted)
    bool paused = false;             // every partition is paused by the window
    bool rebalance_pending = false;  // a commit was refused for a rebalance not yet arrived
    duration pending_for{};          // since that refusal
    duration waited{};               // since this wait for room began
  };

  // What to do about it.
  struct plan {
    enum class next { fetch, pause, resume, wait };
    bool commit = false;            // commit what is done, now
    bool forget_rebalance = false;  // the rebalance did not come: a stale refusal
    next then = next::fetch;
    // With next::wait: the longest wait before asking again (duration::max(): until
    // something changes: a handler ends, a commit is answered, an event arrives).
    duration wait_at_most = duration::max();
  };

  // How long a full window is waited out before the partitions are paused (so that a
  // rebalance is still seen while handlers are stuck), and how long a refused commit may hold
  // fetching while its rebalance does not arrive.
  static constexpr duration hold_before_pause = std::chrono::seconds(1);
  static constexpr duration rebalance_wait = std::chrono::seconds(10);
  // The most records one poll takes.
  static constexpr std::size_t max_batch = 1000;

  explicit fetch_window(std::size_t max_in_flight) : max_(max_in_flight == 0 ? 1 : max_in_flight) {}

  std::size_t max_in_flight() const noexcept { return max_; }
  // The records the next poll may take (at least one, so that a rebalance is still seen).
  std::size_t room(std::size_t uncommitted) const noexcept;
  plan decide(const view& v) const noexcept;

 private:
  std::size_t max_;
};

}  // namespace corobus::detail
