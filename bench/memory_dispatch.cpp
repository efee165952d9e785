#include "measurement.hpp"

#include <corobus/corobus.hpp>

#include <fmt/format.h>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <future>
#include <thread>

namespace corobus::bench {
namespace asio = boost::asio;

result run_memory_dispatch(const parameters& p) {
  const workload w(p);
  const auto& [per_aggregate, total, payload, ids] = w;
  auto r = begin_result("memory keyed dispatch", total);
  arrivals arrived(p.aggregates, total);
  std::promise<void> done;

  config cfg;
  cfg.io_threads = p.io_threads;
  {
    bus b(cfg);
    asio::co_spawn(
        b.get_executor(),
        [&]() -> asio::awaitable<void> {
          co_await b.async_subscribe_envelopes("bench", [&](const envelope& e) -> asio::awaitable<void> {
            if (arrived.observe(e) == total) done.set_value();
            co_return;
          });
        },
        asio::use_future)
        .get();

    // Publisher k owns aggregates k, k + publishers, ...: each aggregate's versions are
    // published in order by exactly one publisher.
    auto publisher = [&](std::size_t k) -> asio::awaitable<void> {
      for (std::size_t v = 1; v <= per_aggregate; ++v)
        for (std::size_t a = k; a < p.aggregates; a += p.publishers)
          co_await b.async_publish_envelope(
              "bench", envelope::make(ids[a], "Benchmarked", static_cast<std::int64_t>(v), payload));
    };
    const run_clock clock;
    std::vector<std::future<void>> publishers;
    for (std::size_t k = 0; k < p.publishers; ++k)
      publishers.push_back(asio::co_spawn(b.get_executor(), publisher(k), asio::use_future));
    for (auto& f : publishers) f.get();
    close_after_last_arrival(r, b, done.get_future(), clock, std::chrono::minutes(5));
  }
  finish_result(r, arrived);
  return r;
}

}  // namespace corobus::bench
