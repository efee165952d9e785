// Graceful shutdown: SIGINT (Ctrl-C) or SIGTERM through an asio signal_set, then close().
// close() stops taking messages, lets the handlers in flight finish within close_grace,
// cancels the ones still running after it (their messages are not acknowledged, so they come
// again to the next consumer), and returns when no task of the bus is left.
#include "example.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unistd.h>
#include <atomic>
#include <csignal>

int main(int argc, char** argv) {
  return example::guarded("graceful_shutdown", [&] {
    auto cfg = example::config_from(argc, argv);
    cfg.close_grace = 1s;
    corobus::bus bus(cfg);
    std::atomic<int> finished{0}, cut_short{0};
    std::promise<int> stop;

    // A quick handler for most orders, a slow one (a report, 30 s) for every 50th.
    auto handle = [&](const corobus::envelope& e) -> asio::awaitable<void> {
      asio::steady_timer work(co_await asio::this_coro::executor, e.event_version % 50 == 0 ? 30s : 20ms);
      try {
        co_await work.async_wait(asio::use_awaitable);
      } catch (const boost::system::system_error&) {
        ++cut_short;  // cancelled by close() once close_grace ran out
        throw;
      }
      ++finished;
    };

    asio::signal_set signals(bus.get_executor(), SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int signal) {
      if (!ec) stop.set_value(signal);
    });
    example::run(bus, [&]() -> asio::awaitable<void> {
      co_await bus.async_subscribe_envelopes("orders", handle);
      for (int v = 1; v <= 200; ++v)
        co_await bus.async_publish_envelope(
            "orders", corobus::envelope::make(fmt::format("order-{}", v % 10), "Placed", v, "{}"));
    });
    fmt::print("running; stop it with Ctrl-C or SIGTERM (pid {})\n", getpid());
    const int signal = stop.get_future().get();
    fmt::print("got signal {}: closing, handlers in flight have {} ms\n", signal, cfg.close_grace.count());
    const auto closing = std::chrono::steady_clock::now();
    bus.close();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - closing);
    const auto m = bus.metrics();
    fmt::print("closed in {} ms: {} handlers finished, {} cut short at the grace period, {} tasks left\n", took.count(),
               finished.load(), cut_short.load(), m.live_tasks);
    return m.live_tasks == 0 && took < cfg.close_grace + 2s;
  });
}
