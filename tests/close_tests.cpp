// close(): nothing outlives it. Handlers finish or are cancelled, tasks are joined, threads
// and descriptors return to what they were before the bus opened.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <corobus/corobus.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>

#include <thread>

using namespace corobus;
using namespace corobus::test;

namespace {

config small_config() {
  config c;
  c.io_threads = 2;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(close_and_leaks, *boost::unit_test::label("memory") * boost::unit_test::label("fault"))

BOOST_AUTO_TEST_CASE(close_cancels_handlers_that_never_finish_after_the_grace_period) {
  auto cfg = small_config();
  cfg.close_grace = std::chrono::milliseconds(300);
  bus b(cfg);
  std::atomic<int> started{0}, saw_cancellation{0};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("stuck", [&](const envelope&) -> asio::awaitable<void> {
      ++started;
      asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(24));
      auto [ec] = co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted) ++saw_cancellation;
      throw boost::system::system_error(ec);
    });
    for (int i = 0; i < 10; ++i)
      co_await b.async_publish_envelope("stuck", envelope::make("agg-" + std::to_string(i), "T", 1, "{}"));
    // and a second message behind each of the first five: queued, never started
    for (int i = 0; i < 5; ++i)
      co_await b.async_publish_envelope("stuck", envelope::make("agg-" + std::to_string(i), "T", 2, "{}"));
  });
  BOOST_TEST(eventually([&] { return started == 10; }));

  const auto begin = std::chrono::steady_clock::now();
  b.close();
  const auto took = std::chrono::steady_clock::now() - begin;
  BOOST_TEST((took >= 300ms));
  BOOST_TEST((took < 300ms + 700ms));
  BOOST_TEST(saw_cancellation == 10);
  const auto m = b.metrics();
  BOOST_TEST(m.live_tasks == 0u);
  BOOST_TEST(m.abandoned == 15u);  // 10 cancelled in their handlers, 5 never started
  BOOST_TEST(m.dead_lettered == 0u);  // cancellation is not a failure
  BOOST_TEST(m.in_flight == 0);
}

BOOST_AUTO_TEST_CASE(close_lets_accepted_work_finish_within_the_grace_period) {
  bus b(small_config());
  std::atomic<int> handled{0};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("work", [&](const envelope&) -> asio::awaitable<void> {
      co_await sleep_for(100us);
      ++handled;
    });
    for (int i = 1; i <= 300; ++i) co_await b.async_publish_envelope("work", envelope::make("one-key", "T", i, "{}"));
  });
  b.close();
  BOOST_TEST(handled == 300);
  BOOST_TEST(b.metrics().abandoned == 0u);
  BOOST_TEST(b.metrics().delivered == 300u);
}

BOOST_AUTO_TEST_CASE(concurrent_close_callers_all_wait_for_the_same_end) {
  const auto threads_before = thread_count();
  auto cfg = small_config();
  cfg.close_grace = std::chrono::milliseconds(200);
  bus b(cfg);
  std::atomic<bool> release{false};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("slow", [&](const message&) -> asio::awaitable<void> {
      co_await eventually_async([&] { return release.load(); }, 10s);
    });
    co_await b.async_publish("slow", "x");
  });
  std::vector<std::thread> closers;
  std::atomic<int> returned{0};
  std::atomic<std::size_t> live_seen_max{0};
  for (int i = 0; i < 8; ++i)
    closers.emplace_back([&] {
      b.close();
      live_seen_max = std::max<std::size_t>(live_seen_max, b.metrics().live_tasks);
      ++returned;
    });
  for (auto& t : closers) t.join();
  BOOST_TEST(returned == 8);
  BOOST_TEST(live_seen_max == 0u);  // nobody returned before the end
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
  b.close();  // and once more: idempotent
}

BOOST_AUTO_TEST_CASE(close_from_one_of_the_bus_threads_is_refused) {
  bus b(small_config());
  const bool refused = run(b.get_executor(), [&]() -> asio::awaitable<bool> {
    try {
      b.close();
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  });
  BOOST_TEST(refused);
  BOOST_TEST(!b.closed());
}

BOOST_AUTO_TEST_CASE(threads_and_descriptors_return_to_their_values_before_the_bus) {
  const auto threads_before = thread_count();
  const auto fds_before = descriptor_count();
  {
    auto cfg = small_config();
    cfg.io_threads = 4;
    bus b(cfg);
    BOOST_TEST(thread_count() == threads_before + 4);
    std::atomic<int> got{0};
    run(b.get_executor(), [&]() -> asio::awaitable<void> {
      co_await b.async_subscribe_envelopes("t", [&](const envelope&) -> asio::awaitable<void> {
        ++got;
        co_await sleep_for(10us);
      });
      auto s = co_await b.async_stream("t");
      for (int i = 0; i < 100; ++i) co_await b.async_publish_envelope("t", envelope::make("a" + std::to_string(i), "T", 1, "{}"));
      auto d = co_await s.async_next();
      co_await d->async_ack();
    });
    BOOST_TEST(eventually([&] { return got == 100; }));
    b.close();
    BOOST_TEST(b.metrics().live_tasks == 0u);
    BOOST_TEST(settled_thread_count(threads_before) == threads_before);
    BOOST_TEST(descriptor_count() == fds_before);
  }
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
  BOOST_TEST(descriptor_count() == fds_before);
}

BOOST_AUTO_TEST_CASE(two_hundred_open_close_cycles_leave_nothing_behind) {
  const auto threads_before = thread_count();
  const auto fds_before = descriptor_count();
  std::size_t max_threads_after = 0, max_fds_after = 0, max_live_after = 0;
  for (int cycle = 0; cycle < 200; ++cycle) {
    bus b(small_config());
    std::atomic<int> got{0};
    run(b.get_executor(), [&]() -> asio::awaitable<void> {
      co_await b.async_subscribe_envelopes("cycle", [&](const envelope&) -> asio::awaitable<void> {
        ++got;
        co_return;
      });
      for (int i = 0; i < 20; ++i) co_await b.async_publish_envelope("cycle", envelope::make("k" + std::to_string(i), "T", 1, "{}"));
    });
    b.close();
    BOOST_TEST_REQUIRE(got == 20);
    max_live_after = std::max(max_live_after, b.metrics().live_tasks);
    max_threads_after = std::max(max_threads_after, settled_thread_count(threads_before));
    max_fds_after = std::max(max_fds_after, descriptor_count());
  }
  BOOST_TEST(max_live_after == 0u);
  BOOST_TEST(max_threads_after == threads_before);
  BOOST_TEST(max_fds_after == fds_before);
}

BOOST_AUTO_TEST_CASE(destroying_an_open_bus_closes_it) {
  const auto threads_before = thread_count();
  std::atomic<int> got{0};
  {
    bus b(small_config());
    run(b.get_executor(), [&]() -> asio::awaitable<void> {
      co_await b.async_subscribe("t", [&](const message&) -> asio::awaitable<void> {
        ++got;
        co_return;
      });
      for (int i = 0; i < 50; ++i) co_await b.async_publish("t", "x");
    });
  }
  BOOST_TEST(got == 50);  // accepted before the destructor: handled
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
}

BOOST_AUTO_TEST_CASE(a_publisher_waiting_on_a_full_lane_is_released_by_close_with_closed) {
  auto cfg = small_config();
  cfg.lanes = 1;
  cfg.lane_capacity = 1;
  cfg.close_grace = std::chrono::milliseconds(100);
  bus b(cfg);
  std::atomic<bool> started{false};
  auto publisher = asio::co_spawn(b.get_executor(), [&]() -> asio::awaitable<boost::system::error_code> {
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
  }, asio::use_future);
  BOOST_TEST(eventually([&] { return started.load(); }));
  std::thread closer([&] { b.close(); });
  BOOST_TEST((publisher.wait_for(10s) == std::future_status::ready));
  BOOST_TEST((publisher.get() == errc::closed));
  closer.join();
  BOOST_TEST(b.metrics().live_tasks == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
