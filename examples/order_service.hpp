#pragma once
// The order service of the examples, on whichever backend `cfg` names (kafka_orders.cpp,
// nats_orders.cpp): it handles OrderPlaced -> OrderPaid -> OrderShipped per order, in order,
// in the group "order-service". One order's payment is declined every time: it is retried,
// then dead-lettered to orders.dlq, which an audit stream reads. Returns the exit status:
// 0 when every event was applied in order, the dead letter read back, and close() left no
// task or thread behind.
#include <corobus/support/process_counts.hpp>

#include <corobus/corobus.hpp>

#include <fmt/format.h>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace asio = boost::asio;

// `on_open` runs once the bus is open (to print what it is connected to, say).
template <class OnOpen>
int run_order_service(const corobus::config& cfg, const char* title, OnOpen on_open) {
  using corobus::support::settled_thread_count;
  using corobus::support::thread_count;
  constexpr int orders = 300;
  const char* steps[] = {"OrderPlaced", "OrderPaid", "OrderShipped"};
  const auto threads_before = thread_count();
  corobus::bus bus(cfg);
  on_open(bus);

  std::mutex mutex;
  std::map<std::string, std::int64_t> state;  // order id -> last step applied
  std::atomic<int> applied{0}, out_of_order{0}, dead_letters{0};
  std::string dead_letter_error;

  auto order_service = [&](const corobus::envelope& e) -> asio::awaitable<void> {
    if (e.aggregate_id == "order-13" && e.event_type == "OrderPaid") throw std::runtime_error("card declined");
    std::lock_guard lock(mutex);
    auto& last = state[e.aggregate_id];
    if (e.event_version != last + 1 && !(e.aggregate_id == "order-13" && last == 1)) ++out_of_order;
    last = e.event_version;
    ++applied;
    co_return;
  };

  auto audit = [&](corobus::stream s) -> asio::awaitable<void> {
    while (auto d = co_await s.async_next()) {
      if (const auto* why = corobus::find_header(d->message().headers, corobus::dead_letter_headers::error)) {
        std::lock_guard lock(mutex);
        dead_letter_error = *why;
      }
      ++dead_letters;
      co_await d->async_ack();
    }
  };

  const auto start = std::chrono::steady_clock::now();
  asio::co_spawn(
      bus.get_executor(),
      [&]() -> asio::awaitable<void> {
        co_await bus.async_subscribe_envelopes("orders", order_service, corobus::subscribe_options("order-service"));
        asio::co_spawn(co_await asio::this_coro::executor, audit(co_await bus.async_stream("orders.dlq")),
                       asio::detached);
        for (int step = 0; step < 3; ++step)
          for (int o = 0; o < orders; ++o)
            co_await bus.async_publish_envelope(
                "orders",
                corobus::envelope::make(fmt::format("order-{}", o), steps[step], step + 1, R"({"total":42.5})"));
      },
      asio::use_future)
      .get();

  // Kafka's group join takes about 3 s on the embedded cluster; then it goes quickly.
  const int expected = 3 * orders - 1;  // order-13's payment is dead-lettered, not applied
  for (int i = 0; i < 3000 && (applied < expected || dead_letters < 1); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bus.close();

  const auto m = bus.metrics();
  const auto threads_after = settled_thread_count(threads_before);
  fmt::print("corobus {}\n", title);
  fmt::print("  published    {} order events ({} orders x 3 steps), each acknowledged by the broker\n", m.published,
             orders);
  fmt::print("  applied      {} in order per order in {:.2f} s (group join included), out of order: {}\n",
             applied.load(), seconds, out_of_order.load());
  fmt::print("  dead letters {} (after {} retries): \"{}\", read back from orders.dlq by a stream\n", m.dead_lettered,
             m.retried, dead_letter_error);
  fmt::print("  after close  live tasks {}, threads {} (before the bus: {})\n", m.live_tasks, threads_after,
             threads_before);
  const bool ok = applied == expected && dead_letters == 1 && out_of_order == 0 && m.live_tasks == 0 &&
                  threads_after == threads_before;
  return ok ? 0 : 1;
}
