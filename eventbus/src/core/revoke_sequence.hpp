#pragma once
// A revoke's timeline as pure state, for every backend with partitions. The revoked
// partitions' queued messages are stale at once; their running handlers get the revoke
// timeout to finish, or until the bus closes (a close must complete the revoke all the same:
// librdkafka's consumer close, and its destroy, wait for ever for a revoke the application
// took and never applied). Handlers still running then are interrupted; then the positions are
// committed (Kafka) or the rest given back in order (NATS), and the revoke is applied. The
// group consumer asks decide() after each wake and carries the step out.
#include <chrono>
#include <cstddef>

namespace corobus::detail {

class revoke_sequence {
 public:
  using clock = std::chrono::steady_clock;

  struct step {
    enum class next { wait, finish };
    next then = next::finish;
    clock::time_point wait_until{};  // with next::wait
    bool interrupt = false;          // with next::finish: cancel the handlers still running
  };

  revoke_sequence(clock::time_point start, clock::duration timeout) : deadline_(start + timeout) {}

  // `running`: handlers of the revoked partitions not yet ended; `cancelled`: the bus closes.
  step decide(std::size_t running, clock::time_point now, bool cancelled) const noexcept;

 private:
  clock::time_point deadline_;
};

}  // namespace corobus::detail
