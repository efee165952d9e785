#pragma once
// A continuous pull consumer's accounting, as pure state (JetStream's ADR-37, as nats.go and
// async-nats keep it): what was asked for and has not come yet, and how much to ask for
// next. A pull for n adds n; each message delivered takes one; a 408 or 409 that ends a
// request takes what its Nats-Pending-Messages header says will not come. Once what is
// pending falls to the threshold, the next pull asks for the deficit below the batch, and
// never for more than the in-flight window has room for (backpressure: nothing is pulled
// while handlers are behind). A reconnect or a missed heartbeat resets it: the server forgot
// the old requests.
#include <algorithm>

namespace corobus::nats {

class pull_pending {
 public:
  // `batch`: what the consumer keeps asked for; `threshold`: pull again at or below it
  // (nats.go: half the batch).
  pull_pending(int batch, int threshold)
      : batch_(std::max(1, batch)), threshold_(std::clamp(threshold, 0, batch_ - 1)) {}

  // How many messages to ask for now, with room for `room` more unacknowledged ones (0: none).
  int to_request(int room) const noexcept {
    if (pending_ > threshold_) return 0;
    return std::max(0, std::min(batch_ - pending_, room));
  }
  void requested(int n) noexcept { pending_ += std::max(0, n); }
  void delivered() noexcept { pending_ = std::max(0, pending_ - 1); }
  void expired(int unfilled) noexcept { pending_ = std::max(0, pending_ - std::max(0, unfilled)); }
  void reset() noexcept { pending_ = 0; }

  int pending() const noexcept { return pending_; }

 private:
  int batch_;
  int threshold_;
  int pending_ = 0;
};

}  // namespace corobus::nats
