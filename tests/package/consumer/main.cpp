// An application using corobus as its users do (tests/package/): through each backend of the
// corobus it was built against, a handler that awaits an asio timer, a stream loop that awaits
// one before it acks, publishes, and work of its own co_spawned on the bus's executor. A
// backend that build left out must be refused with invalid_config. Exit status 0 when all of
// that held.
#include <corobus/corobus.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr int messages = 3;

asio::awaitable<void> pause_1ms() {
  asio::steady_timer timer(co_await asio::this_coro::executor, 1ms);
  co_await timer.async_wait(asio::use_awaitable);
}

bool round_trip(corobus::config cfg, const char* name) {
  corobus::bus bus(cfg);
  // Each order is handled once and streamed once; the first half is published by a coroutine
  // that awaits each publish, the second by tasks of the application's own on the bus's threads.
  constexpr int orders = 2 * messages;
  std::atomic<int> handled{0}, streamed{0}, published_by_tasks{0}, outstanding{2 * orders + messages};
  std::promise<void> all_done;
  auto count = [&](std::atomic<int>& n) {
    ++n;
    if (--outstanding == 0) all_done.set_value();
  };
  auto order = [](int v) { return corobus::envelope::make("order-1", "OrderPlaced", v, "{}"); };

  asio::co_spawn(
      bus.get_executor(),
      [&]() -> asio::awaitable<void> {
        co_await bus.async_subscribe_envelopes("orders", [&](const corobus::envelope&) -> asio::awaitable<void> {
          co_await pause_1ms();
          count(handled);
        });
        auto audit = co_await bus.async_stream("orders");  // a group of its own: sees every order too
        // The executor is named first: g++ 12 destroys a lambda's captures twice when the
        // lambda is a temporary in an expression that also co_awaits (docs/compiler-notes.md).
        const auto executor = co_await asio::this_coro::executor;
        asio::co_spawn(
            executor,
            [&, audit]() mutable -> asio::awaitable<void> {
              while (auto d = co_await audit.async_next()) {
                co_await pause_1ms();
                co_await d->async_ack();
                count(streamed);
              }
            },
            asio::detached);
        for (int v = 1; v <= messages; ++v) co_await bus.async_publish_envelope("orders", order(v));
      },
      asio::use_future)
      .get();
  for (int v = messages + 1; v <= orders; ++v)
    asio::co_spawn(
        bus.get_executor(),
        [&, v]() -> asio::awaitable<void> {
          co_await pause_1ms();
          auto [ec, result] =
              co_await bus.async_publish_envelope("orders", order(v), asio::as_tuple(asio::use_awaitable));
          if (!ec) count(published_by_tasks);
        },
        asio::detached);

  const bool done = all_done.get_future().wait_for(60s) == std::future_status::ready;
  bus.close();
  const auto m = bus.metrics();
  const bool ok = done && m.live_tasks == 0;
  std::printf("%s: %d of %d handled, %d streamed, %d of %d published by tasks; live tasks after close %lld: %s\n", name,
              handled.load(), orders, streamed.load(), published_by_tasks.load(), messages,
              static_cast<long long>(m.live_tasks), ok ? "ok" : "FAILED");
  return ok;
}

bool refused(corobus::config cfg, const char* name) {
  try {
    corobus::bus bus(cfg);
  } catch (const boost::system::system_error& e) {
    const bool ok = e.code() == corobus::errc::invalid_config && std::strstr(e.what(), "not built") != nullptr;
    std::printf("%s: refused (%s)\n", name, e.what());
    return ok;
  }
  std::printf("%s: NOT refused\n", name);
  return false;
}

}  // namespace

// argv[1], argv[2]: whether the kafka and nats backends are expected ("1") or not ("0").
int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: consumer <kafka 0|1> <nats 0|1>\n");
    return 2;
  }
  bool ok = round_trip(corobus::config{}, "memory");
  corobus::config kafka;
  kafka.backend = corobus::backend_kind::kafka;  // kafka.bootstrap "embedded": librdkafka's mock cluster
  ok = (std::string(argv[1]) == "1" ? round_trip(kafka, "kafka") : refused(kafka, "kafka")) && ok;
  corobus::config nats;
  nats.backend = corobus::backend_kind::nats;  // nats.url "embedded": a nats-server of its own
  ok = (std::string(argv[2]) == "1" ? round_trip(nats, "nats") : refused(nats, "nats")) && ok;
  return ok ? 0 : 1;
}
