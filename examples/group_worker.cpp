// A consumer group across processes: start it twice (or more) with the same servers and the
// processes share the topic's work, each key handled by one of them at a time, in order.
//   group_worker --backend nats --servers nats://127.0.0.1:4222 --publish 300
//   group_worker --backend nats --servers nats://127.0.0.1:4222
//   group_worker --backend kafka --servers broker1:9092,broker2:9092 ...
// On NATS the topic is partitioned (nats.partitions), each partition owned by one member
// through a lease; on Kafka the group's partitions are assigned by the broker. `--publish N`
// also publishes N jobs over 20 keys, slowly, so the second process joins mid-stream. Each
// process runs for `--seconds` (default 30) and says what it handled.
#include "example.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

int main(int argc, char** argv) {
  return example::guarded("group_worker", [&] {
    corobus::config fallback;
    const auto backend = example::flag(argc, argv, "--backend", "nats");
    const auto servers = example::flag(argc, argv, "--servers");
    if (servers.empty())
      throw std::invalid_argument("--servers is required: a group spans processes, so no embedded broker");
    if (backend == "kafka") {
      fallback.backend = corobus::backend_kind::kafka;
      fallback.kafka.bootstrap = servers;
    } else {
      fallback.backend = corobus::backend_kind::nats;
      fallback.nats.url = servers;
      fallback.nats.partitions = 6;  // every member and publisher of the topic must agree
      fallback.nats.lease_ttl = 3s;  // a member gone is replaced within seconds
    }
    corobus::bus bus(example::config_from(argc, argv, fallback));
    const int to_publish = std::stoi(example::flag(argc, argv, "--publish", "0"));
    const auto seconds = std::chrono::seconds(std::stoi(example::flag(argc, argv, "--seconds", "30")));
    std::mutex mutex;
    std::map<std::string, std::set<std::int64_t>> seen;  // per key: the versions handled here
    std::atomic<int> handled{0}, out_of_order{0};
    const auto until = std::chrono::steady_clock::now() + seconds;

    example::run(bus, [&]() -> asio::awaitable<void> {
      co_await bus.async_subscribe_envelopes(
          "jobs",
          [&](const corobus::envelope& e) -> asio::awaitable<void> {
            std::lock_guard lock(mutex);
            // A key may move between members (gaps here), and come again after a move (at
            // least once); what must not happen is a version new here after a higher one.
            auto& versions = seen[e.aggregate_id];
            if (!versions.contains(e.event_version) && !versions.empty() && e.event_version < *versions.rbegin())
              ++out_of_order;
            versions.insert(e.event_version);
            ++handled;
            co_return;
          },
          corobus::subscribe_options("workers"));
    });
    example::run(
        bus,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer pace(co_await asio::this_coro::executor);
          for (int i = 0; i < to_publish; ++i) {
            co_await bus.async_publish_envelope(
                "jobs", corobus::envelope::make(fmt::format("key-{}", i % 20), "JobQueued", i / 20 + 1, "{}"));
            pace.expires_after(20ms);
            co_await pace.async_wait(asio::use_awaitable);
          }
        },
        seconds);
    std::this_thread::sleep_until(until);
    bus.close();
    fmt::print("handled {} jobs of {} keys; out of order: {}\n", handled.load(), seen.size(), out_of_order.load());
    return handled > 0 && out_of_order == 0;
  });
}
