// What only the in-process backend does: a topic directory for thousands of topics, and
// backpressure (a full subscription makes publishers wait). The behaviour every backend
// shares is in the conformance suite.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <corobus/corobus.hpp>

#include <map>
#include <mutex>

using namespace corobus;
using namespace corobus::test;

namespace {

config fast_config() {
  config c;
  c.io_threads = 2;
  c.close_grace = std::chrono::milliseconds(2000);
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_bus, *boost::unit_test::label("memory"))

BOOST_AUTO_TEST_CASE(thousands_of_topics_each_reach_their_own_subscribers) {
  bus b(fast_config());
  constexpr int topics = 3000, subscribed = 300;
  std::vector<std::atomic<int>> got(subscribed);
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    for (int i = 0; i < subscribed; ++i)
      co_await b.async_subscribe("topic-" + std::to_string(i), [&got, i](const message& m) -> asio::awaitable<void> {
        if (m.topic == "topic-" + std::to_string(i)) ++got[i];
        co_return;
      });
    for (int i = 0; i < topics; ++i) co_await b.async_publish("topic-" + std::to_string(i), "x");
  });
  BOOST_TEST(eventually([&] { return b.metrics().delivered == static_cast<std::uint64_t>(subscribed); }));
  for (int i = 0; i < subscribed; ++i) BOOST_TEST_REQUIRE(got[i] == 1);
  BOOST_TEST(b.metrics().unrouted == static_cast<std::uint64_t>(topics - subscribed));  // counted, not silent
}

BOOST_AUTO_TEST_CASE(a_full_subscription_makes_publishers_wait_and_memory_stays_bounded) {
  auto cfg = fast_config();
  cfg.lanes = 2;
  cfg.lane_capacity = 4;
  bus b(cfg);
  std::atomic<bool> open{false};
  std::atomic<int> handled{0};
  std::int64_t max_in_flight = 0;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("slow", [&](const envelope&) -> asio::awaitable<void> {
      co_await eventually_async([&] { return open.load(); });
      ++handled;
    });
    auto ex = co_await asio::this_coro::executor;
    auto publisher = asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 100; ++i)
            co_await b.async_publish_envelope("slow",
                                              envelope::make("k" + std::to_string(i % 7), "T", 1 + i / 7, "{}"));
        },
        asio::use_future);
    // One lane full (4 queued, 1 in its handler) stops the publisher.
    BOOST_TEST(co_await eventually_async([&] { return b.metrics().in_flight >= 5; }));
    BOOST_TEST((publisher.wait_for(0s) == std::future_status::timeout));
    BOOST_TEST(b.metrics().published < 100u);
    max_in_flight = b.metrics().in_flight;
    open = true;
    co_await eventually_async([&] { return publisher.wait_for(0s) == std::future_status::ready; });
    publisher.get();
  });
  BOOST_TEST(max_in_flight <= 2 * (4 + 1));  // two lanes: queued plus the one being handled
  BOOST_TEST(eventually([&] { return handled == 100; }));
}

BOOST_AUTO_TEST_CASE(a_publisher_waiting_on_a_full_lane_is_released_by_close_with_closed) {
  auto cfg = fast_config();
  cfg.lanes = 1;
  cfg.lane_capacity = 1;
  cfg.close_grace = std::chrono::milliseconds(100);
  bus b(cfg);
  std::atomic<bool> started{false};
  auto publisher = asio::co_spawn(
      b.get_executor(),
      [&]() -> asio::awaitable<boost::system::error_code> {
        co_await b.async_subscribe_envelopes("jam", [&](const envelope&) -> asio::awaitable<void> {
          started = true;
          co_await sleep_for(std::chrono::hours(1));
        });
        try {
          for (int i = 1; i <= 10; ++i) co_await b.async_publish_envelope("jam", envelope::make("k", "T", i, "{}"));
        } catch (const boost::system::system_error& e) {
          co_return e.code();
        }
        co_return boost::system::error_code{};
      },
      asio::use_future);
  BOOST_TEST(eventually([&] { return started.load(); }));
  std::thread closer([&] { b.close(); });
  BOOST_TEST((publisher.wait_for(10s) == std::future_status::ready));
  BOOST_TEST((publisher.get() == errc::closed));
  closer.join();
  BOOST_TEST(b.metrics().live_tasks == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
