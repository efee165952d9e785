#include "latency.hpp"
#include "process_stats.hpp"
#include "scenario.hpp"

#include <corobus/corobus.hpp>

#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include <atomic>
#include <future>
#include <thread>

namespace corobus::bench {
namespace asio = boost::asio;

result run_memory_dispatch(const parameters& p) {
  result r;
  r.name = "memory keyed dispatch";
  const process_snapshot before;
  r.threads_before = before.threads;
  r.fds_before = before.descriptors;

  const auto per_aggregate = p.messages / p.aggregates;
  const auto total = per_aggregate * p.aggregates;
  r.sent = total;

  // Payload and aggregate ids made before the clock starts: the run measures the bus.
  const std::string payload = fmt::format(R"({{"data":"{}"}})", std::string(p.payload_bytes > 12 ? p.payload_bytes - 12 : 1, 'x'));
  std::vector<std::string> ids;
  for (std::size_t a = 0; a < p.aggregates; ++a) ids.push_back(fmt::format("agg-{}", a));

  latency_record latency(total);
  std::vector<std::int64_t> last(p.aggregates, 0);
  std::atomic<std::size_t> received{0}, violations{0};
  std::promise<void> done;

  config cfg;
  cfg.io_threads = p.io_threads;
  {
    bus b(cfg);
    asio::co_spawn(b.get_executor(), [&]() -> asio::awaitable<void> {
      co_await b.subscribe_envelopes("bench", [&](const envelope& e) -> asio::awaitable<void> {
        const auto a = static_cast<std::size_t>(std::stoul(e.aggregate_id.substr(4)));
        if (e.event_version != last[a] + 1) violations.fetch_add(1, std::memory_order_relaxed);
        last[a] = e.event_version;
        latency.record((e.event_version - 1) * p.aggregates + a, e.timestamp);
        if (received.fetch_add(1, std::memory_order_relaxed) + 1 == total) done.set_value();
        co_return;
      });
    }, asio::use_future).get();

    // Publisher k owns aggregates k, k + publishers, ...: each aggregate's versions are
    // published in order by exactly one publisher.
    auto publisher = [&](std::size_t k) -> asio::awaitable<void> {
      for (std::size_t v = 1; v <= per_aggregate; ++v)
        for (std::size_t a = k; a < p.aggregates; a += p.publishers)
          co_await b.publish_envelope("bench", envelope::make(ids[a], "Benchmarked", static_cast<std::int64_t>(v), payload));
    };
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::future<void>> publishers;
    for (std::size_t k = 0; k < p.publishers; ++k)
      publishers.push_back(asio::co_spawn(b.get_executor(), publisher(k), asio::use_future));
    for (auto& f : publishers) f.get();
    if (done.get_future().wait_for(std::chrono::minutes(5)) == std::future_status::ready)
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.tasks_peak = b.metrics().peak_tasks;
    b.close();
    r.tasks_after = b.metrics().live_tasks;
  }
  r.received = received;
  r.order_violations = violations;
  r.p50_ms = latency.percentile_ms(50);
  r.p99_ms = latency.percentile_ms(99);
  r.max_ms = latency.percentile_ms(100);
  r.rss_peak_kib = status_kib("VmHWM");
  r.threads_after = settled_thread_count(r.threads_before);
  const process_snapshot after;
  r.fds_after = after.descriptors;
  return r;
}

}  // namespace corobus::bench
