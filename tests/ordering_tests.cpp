// Keyed ordering under load: many aggregates, handlers that suspend, two io threads.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <corobus/corobus.hpp>

#include <boost/asio/post.hpp>

#include <random>

using namespace corobus;
using namespace corobus::test;

BOOST_AUTO_TEST_SUITE(ordering, *boost::unit_test::label("memory") * boost::unit_test::label("stress"))

BOOST_AUTO_TEST_CASE(one_hundred_thousand_envelopes_over_a_thousand_aggregates_keep_their_order) {
  constexpr int aggregates = 1000;
  constexpr int per_aggregate = 100;
  constexpr int total = aggregates * per_aggregate;

  config cfg;
  cfg.io_threads = 2;
  bus b(cfg);

  // Each aggregate is only ever touched by its own lane, one message at a time, so plain
  // per-aggregate slots are enough; the strand hand-over orders the accesses.
  std::vector<std::int64_t> last(aggregates, 0);
  std::atomic<int> violations{0}, handled{0}, running{0}, max_running{0};
  std::atomic<long long> overlapped{0};  // handler starts that found another handler running

  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("ordered", [&](const envelope& e) -> asio::awaitable<void> {
      const int now = ++running;
      if (now > 1) ++overlapped;
      for (int prev = max_running; now > prev && !max_running.compare_exchange_weak(prev, now);) {}
      // Suspend for a random short time: a yield, or a timer of up to 200 microseconds.
      thread_local std::minstd_rand rng{std::random_device{}()};
      const auto r = rng() % 4;
      if (r == 0)
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      else if (r == 1)
        co_await sleep_for(std::chrono::microseconds(rng() % 200));
      const int agg = std::stoi(e.aggregate_id.substr(4));
      if (e.event_version != last[agg] + 1) ++violations;
      last[agg] = e.event_version;
      --running;
      ++handled;
    });
    for (int v = 1; v <= per_aggregate; ++v)
      for (int a = 0; a < aggregates; ++a)
        co_await b.async_publish_envelope("ordered", envelope::make("agg-" + std::to_string(a), "Changed", v, R"({"v":1})"));
  }, std::chrono::seconds(300));

  BOOST_TEST(eventually([&] { return handled == total; }, 120s));
  b.close();
  BOOST_TEST(violations == 0);
  for (int a = 0; a < aggregates; ++a) BOOST_TEST_REQUIRE(last[a] == per_aggregate);
  BOOST_TEST_MESSAGE("max concurrent handlers " << max_running << ", overlapping starts " << overlapped);
  BOOST_TEST(max_running > 8);            // different keys ran at the same time
  BOOST_TEST(overlapped > total / 10);    // and not just now and then
  BOOST_TEST(b.metrics().delivered == static_cast<std::uint64_t>(total));
  BOOST_TEST(b.metrics().live_tasks == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
