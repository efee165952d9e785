#pragma once
// The one revoke driver of every backend with partitions (Kafka's rebalance, a NATS partition
// moving to another member): carries out revoke_sequence's steps. It waits for the running
// handlers of the revoked partitions until they ended or revoke_timeout passed, woken by each
// that ends; cancelled (the bus closes), it finishes at once.
#include <corobus/runtime/asio.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>

namespace corobus::detail {

// `running()` counts the handlers still running; each that ends cancels `wake` (a timer on
// the caller's strand, so no wake is missed between a count and the wait). `gone()`, when not
// empty, ends the wait early (the partitions were abandoned meanwhile). True when handlers
// still run and are to be interrupted. (No default argument, and the callers name their
// functions before the co_await: g++ 12 destroys a co_await's temporaries twice.)
asio::awaitable<bool> wait_for_revoked_handlers(asio::steady_timer& wake, std::chrono::milliseconds timeout,
                                                std::function<std::size_t()> running, std::function<bool()> gone);

}  // namespace corobus::detail
