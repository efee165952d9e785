// corobus quickstart: an order stream on the in-process bus (the embedded default).
//
// Publishes versioned events for many aggregates, handles them in order per aggregate with
// subscribe_envelopes, reads the same topic as an audit log with a stream loop, closes the
// bus and shows that nothing was left behind.
#include <corobus/support/process_counts.hpp>
#include "example.hpp"

#include <corobus/corobus.hpp>

#include <fmt/format.h>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

using corobus::support::settled_thread_count;
using corobus::support::thread_count;

int main(int argc, char** argv) {
  constexpr int aggregates = 1000;
  constexpr int versions = 20;
  constexpr int total = aggregates * versions;
  const auto threads_before = thread_count();

  corobus::bus bus(example::config_from(argc, argv));  // the default: the memory backend

  std::vector<std::int64_t> last_version(aggregates, 0);  // touched only by each key's lane
  std::atomic<int> handled{0}, violations{0}, audited{0};
  std::atomic<int> outstanding{2 * total};  // each order is handled once and audited once
  std::promise<void> all_done;

  // Push style: handlers run on lanes, one at a time per aggregate.
  auto on_order = [&](const corobus::envelope& e) -> asio::awaitable<void> {
    auto& last = last_version[std::stoi(e.aggregate_id.substr(6))];
    if (e.event_version != last + 1) ++violations;
    last = e.event_version;
    ++handled;
    if (--outstanding == 0) all_done.set_value();
    co_return;
  };

  // Pull style: a plain loop that ends when the bus closes.
  auto audit_log = [&](corobus::stream s) -> asio::awaitable<void> {
    while (auto d = co_await s.async_next()) {
      ++audited;
      co_await d->async_ack();
      if (--outstanding == 0) all_done.set_value();
    }
  };

  const auto start = clock_type::now();
  auto audit_done = asio::co_spawn(
      bus.get_executor(),
      [&]() -> asio::awaitable<void> {
        co_await bus.async_subscribe_envelopes("orders", on_order);
        auto audit = co_await bus.async_stream("orders");  // a group of its own: sees every message too
        asio::co_spawn(co_await asio::this_coro::executor, audit_log(std::move(audit)), asio::detached);
        for (int v = 1; v <= versions; ++v)
          for (int a = 0; a < aggregates; ++a)
            co_await bus.async_publish_envelope("orders",
                                                corobus::envelope::make(fmt::format("order-{}", a), "OrderUpdated", v,
                                                                        fmt::format(R"({{"status":"step-{}"}})", v)));
      },
      asio::use_future);
  audit_done.get();
  const auto published_at = clock_type::now();

  if (all_done.get_future().wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    fmt::print(stderr, "quickstart: only {} of {} orders were handled, {} audited\n", handled.load(), total,
               audited.load());
    return 1;
  }
  const auto handled_at = clock_type::now();
  bus.close();

  const auto m = bus.metrics();
  const auto threads_after = settled_thread_count(threads_before);
  const double seconds = std::chrono::duration<double>(handled_at - start).count();
  fmt::print("corobus quickstart: memory backend, {} io threads\n", std::thread::hardware_concurrency());
  fmt::print("  published    {} envelopes over {} aggregates in {:.3f} s\n", total, aggregates,
             std::chrono::duration<double>(published_at - start).count());
  fmt::print("  handled      {} in order per aggregate ({:.0f} msg/s), order violations: {}\n", handled.load(),
             total / seconds, violations.load());
  fmt::print("  audited      {} through a stream loop, each acked\n", audited.load());
  fmt::print("  dead letters {}, abandoned at close {}\n", m.dead_lettered, m.abandoned);
  fmt::print("  after close  live tasks {}, threads {} (before the bus: {})\n", m.live_tasks, threads_after,
             threads_before);

  const bool ok =
      handled == total && audited == total && violations == 0 && m.live_tasks == 0 && threads_after == threads_before;
  return ok ? 0 : 1;
}
