// The runtime on its own: io pool, task scope, async queue, lanes.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <corobus/runtime/async_op.hpp>
#include <corobus/runtime/async_queue.hpp>
#include <corobus/runtime/blocking_pool.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/gate.hpp>
#include <corobus/runtime/io_pool.hpp>
#include <corobus/runtime/lane_group.hpp>
#include <corobus/runtime/stable_hash.hpp>
#include <corobus/runtime/task_scope.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <map>
#include <set>
#include <thread>
#include <vector>

using namespace corobus;
using namespace corobus::test;

BOOST_AUTO_TEST_SUITE(runtime, *boost::unit_test::label("unit"))

BOOST_AUTO_TEST_CASE(io_pool_runs_on_its_threads_and_shutdown_joins_them) {
  const auto threads_before = quiet_thread_count();  // compared exactly below
  const auto fds_before = descriptor_count();
  {
    io_pool pool(3);
    BOOST_TEST(pool.size() == 3u);
    BOOST_TEST(thread_count() == threads_before + 3);
    std::mutex m;
    std::set<std::thread::id> seen;
    std::atomic<int> done{0};
    std::atomic<int> off_pool{0};  // Boost.Test is not thread-safe: count here, check below
    for (int i = 0; i < 300; ++i)
      asio::post(pool.get_executor(), [&] {
        if (!pool.running_in_this_thread()) ++off_pool;
        std::lock_guard lock(m);
        seen.insert(std::this_thread::get_id());
        ++done;
      });
    BOOST_TEST(eventually([&] { return done == 300; }));
    BOOST_TEST(off_pool == 0);
    BOOST_TEST(!pool.running_in_this_thread());
    pool.shutdown();
    BOOST_TEST(seen.size() >= 1u);
    BOOST_TEST(seen.count(std::this_thread::get_id()) == 0u);
  }
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
  BOOST_TEST(descriptor_count() == fds_before);
}

BOOST_AUTO_TEST_CASE(io_pool_refuses_absurd_sizes) {
  try {
    io_pool pool(5000);
    BOOST_FAIL("expected invalid_config");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == errc::invalid_config));
  }
}

BOOST_AUTO_TEST_CASE(task_scope_counts_live_and_peak_tasks) {
  io_pool pool(2);
  task_scope scope;
  std::atomic<bool> release{false};
  for (int i = 0; i < 10; ++i)
    scope.spawn(
        pool.make_strand(),
        [](std::atomic<bool>& r) -> asio::awaitable<void> {
          co_await eventually_async([&] { return r.load(); });
        }(release),
        "waiter");
  BOOST_TEST(scope.live() == 10u);
  BOOST_TEST(!scope.wait_idle_for(20ms));
  release = true;
  BOOST_TEST(scope.wait_idle_for(10s));
  BOOST_TEST(scope.live() == 0u);
  BOOST_TEST(scope.peak() == 10u);
  BOOST_TEST(scope.started() == 10u);
}

BOOST_AUTO_TEST_CASE(task_scope_cancel_reaches_every_task) {
  io_pool pool(2);
  task_scope scope;
  std::atomic<int> started{0}, aborted{0};
  for (int i = 0; i < 50; ++i)
    scope.spawn(
        pool.make_strand(),
        [](std::atomic<int>& s, std::atomic<int>& a) -> asio::awaitable<void> {
          ++s;
          asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
          const auto done = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
          if (std::get<0>(done) == asio::error::operation_aborted) ++a;
        }(started, aborted),
        "sleeper");
  BOOST_TEST(eventually([&] { return started == 50; }));
  const auto start = std::chrono::steady_clock::now();
  scope.cancel();
  BOOST_TEST(scope.wait_idle_for(5s));
  BOOST_TEST((std::chrono::steady_clock::now() - start < 1s));
  BOOST_TEST(aborted == 50);
  BOOST_TEST(scope.cancelled());
}

BOOST_AUTO_TEST_CASE(task_scope_cancel_before_a_task_starts_means_it_never_runs) {
  io_pool pool(1);
  task_scope scope;
  std::atomic<bool> gate{false};
  std::atomic<int> ran{0};
  auto strand = pool.make_strand();
  asio::post(strand, [&] { eventually([&] { return gate.load(); }); });  // hold the strand
  for (int i = 0; i < 10; ++i)
    scope.spawn(
        strand,
        [](std::atomic<int>& r) -> asio::awaitable<void> {
          ++r;
          co_return;
        }(ran),
        "late starter");
  scope.cancel();
  gate = true;
  BOOST_TEST(scope.wait_idle_for(5s));
  BOOST_TEST(ran == 0);
  BOOST_TEST(scope.live() == 0u);
}

BOOST_AUTO_TEST_CASE(task_scope_refuses_new_tasks_after_cancel) {
  io_pool pool(1);
  task_scope scope;
  scope.cancel();
  try {
    scope.spawn(
        pool.make_strand(), []() -> asio::awaitable<void> { co_return; }(), "late");
    BOOST_FAIL("expected closed");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == errc::closed));
  }
  BOOST_TEST(scope.live() == 0u);
}

BOOST_AUTO_TEST_CASE(task_scope_survives_a_task_that_throws) {
  io_pool pool(1);
  task_scope scope;
  const auto warnings_before = logged_warnings();
  scope.spawn(
      pool.make_strand(),
      []() -> asio::awaitable<void> {
        throw std::runtime_error("boom");
        co_return;
      }(),
      "thrower");
  BOOST_TEST(scope.wait_idle_for(5s));
  BOOST_TEST(logged_warnings() > warnings_before);  // logged as an error
}

BOOST_AUTO_TEST_CASE(async_queue_is_fifo_and_bounded) {
  auto q = async_queue<int>::create(3);
  for (int i = 0; i < 3; ++i) {
    int v = i;
    BOOST_TEST((q->try_push(v) == push_status::pushed));
  }
  int extra = 99;
  BOOST_TEST((q->try_push(extra) == push_status::full));
  BOOST_TEST(q->size() == 3u);
  for (int i = 0; i < 3; ++i) BOOST_TEST(*q->try_pop() == i);
  BOOST_TEST(!q->try_pop().has_value());
}

BOOST_AUTO_TEST_CASE(async_queue_close_drains_then_ends_and_fails_waiting_pushers) {
  io_pool pool(1);
  auto q = async_queue<int>::create(1);
  run(pool.get_executor(), [&]() -> asio::awaitable<void> {
    co_await q->async_push(1);
    // A pusher that waits for room, released by close() with errc::closed.
    auto blocked = asio::co_spawn(co_await asio::this_coro::executor, q->async_push(2), asio::use_future);
    co_await sleep_for(5ms);
    BOOST_TEST((blocked.wait_for(0s) == std::future_status::timeout));
    q->close();
    co_await eventually_async([&] { return blocked.wait_for(0s) == std::future_status::ready; });
    try {
      blocked.get();
      BOOST_FAIL("expected closed");
    } catch (const boost::system::system_error& e) {
      BOOST_TEST((e.code() == errc::closed));
    }
    auto first = co_await q->async_pop();
    BOOST_TEST(first.value_or(-1) == 1);  // accepted before close: still delivered
    auto end = co_await q->async_pop();
    BOOST_TEST(!end.has_value());
    int v = 3;
    BOOST_TEST((q->try_push(v) == push_status::closed));
  });
}

BOOST_AUTO_TEST_CASE(async_queue_wakes_a_waiting_consumer_from_another_thread) {
  io_pool pool(2);
  auto q = async_queue<std::string>::create(4);
  auto popped = asio::co_spawn(pool.make_strand(), q->async_pop(), asio::use_future);
  BOOST_TEST((popped.wait_for(10ms) == std::future_status::timeout));
  std::string v = "hello";
  BOOST_TEST((q->try_push(v) == push_status::pushed));
  BOOST_TEST((popped.wait_for(5s) == std::future_status::ready));
  BOOST_TEST(popped.get().value() == "hello");
}

BOOST_AUTO_TEST_CASE(async_queue_wait_is_cancellable) {
  io_pool pool(1);
  auto q = async_queue<int>::create(1);
  run(pool.make_strand(), [&]() -> asio::awaitable<void> {
    asio::cancellation_signal signal;
    std::promise<boost::system::error_code> result;
    q->async_pop(asio::bind_cancellation_slot(
        signal.slot(), [&](boost::system::error_code ec, std::optional<int>) { result.set_value(ec); }));
    signal.emit(asio::cancellation_type::terminal);
    auto f = result.get_future();
    co_await eventually_async([&] { return f.wait_for(0s) == std::future_status::ready; });
    BOOST_TEST((f.get() == asio::error::operation_aborted));
    int v = 7;  // the cancelled waiter no longer takes values
    BOOST_TEST((q->try_push(v) == push_status::pushed));
    BOOST_TEST(q->size() == 1u);
  });
}

BOOST_AUTO_TEST_CASE(async_queue_pusher_waits_for_room) {
  io_pool pool(2);
  auto q = async_queue<int>::create(2);
  run(pool.get_executor(), [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto producer = asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 100; ++i) co_await q->async_push(i);
        },
        asio::use_future);
    for (int i = 0; i < 100; ++i) {
      BOOST_TEST(q->size() <= 2u);
      auto v = co_await q->async_pop();
      BOOST_REQUIRE(v.has_value());
      BOOST_TEST(*v == i);
    }
    co_await eventually_async([&] { return producer.wait_for(0s) == std::future_status::ready; });
    producer.get();
  });
}

BOOST_AUTO_TEST_CASE(stable_hash_is_fnv1a_32) {
  BOOST_TEST(stable_hash("") == 0x811c9dc5u);
  BOOST_TEST(stable_hash("a") == 0xe40c292cu);
  BOOST_TEST(stable_hash("foobar") == 0xbf9cf968u);
}

BOOST_AUTO_TEST_CASE(keyed_lanes_keep_order_with_suspending_items_and_overlap_keys) {
  io_pool pool(2);
  task_scope scope;
  std::mutex m;
  std::map<int, std::vector<int>> seen;
  std::atomic<int> running{0}, max_running{0}, done{0};
  constexpr int keys = 50, per_key = 40;
  {
    lane_group<std::pair<int, int>> lanes(
        scope, pool, lane_shape::keyed(16, 8),
        [&](std::pair<int, int> item) -> asio::awaitable<void> {
          const int now = ++running;
          for (int prev = max_running; now > prev && !max_running.compare_exchange_weak(prev, now);) {
          }
          co_await sleep_for(std::chrono::microseconds(50 * (item.second % 4)));
          {
            std::lock_guard lock(m);
            seen[item.first].push_back(item.second);
          }
          --running;
          ++done;
        },
        "test lanes");
    run(pool.get_executor(), [&]() -> asio::awaitable<void> {
      for (int n = 0; n < per_key; ++n)
        for (int k = 0; k < keys; ++k) co_await lanes.push(stable_hash(std::to_string(k)), {k, n});
    });
    BOOST_TEST(eventually([&] { return done == keys * per_key; }));
    lanes.close();
    BOOST_TEST(scope.wait_idle_for(5s));
  }
  for (auto& [k, values] : seen) {
    std::vector<int> expected(per_key);
    for (int n = 0; n < per_key; ++n) expected[n] = n;
    BOOST_TEST(values == expected);
  }
  BOOST_TEST(max_running > 1);  // different keys ran at the same time
}

BOOST_AUTO_TEST_CASE(an_interrupted_item_is_cancelled_and_its_lane_goes_on) {
  io_pool pool(2);
  task_scope scope;
  std::atomic<bool> stuck_started{false}, stuck_cancelled{false};
  std::atomic<int> done{0};
  {
    lane_group<int> lanes(
        scope, pool, lane_shape::keyed(1, 8),  // one lane: what follows the stuck item waits for it
        [&](int item) -> asio::awaitable<void> {
          if (item == 0) {
            stuck_started = true;
            try {
              co_await sleep_for(std::chrono::seconds(60));
            } catch (const boost::system::system_error& e) {
              stuck_cancelled = e.code() == asio::error::operation_aborted;
              throw;
            }
          }
          ++done;
        },
        "test lane");
    run(pool.get_executor(), [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 5; ++i) co_await lanes.push(0, i);
    });
    BOOST_TEST_REQUIRE(eventually([&] { return stuck_started.load(); }));
    lanes.interrupt_if([](const int& item) { return item == 3; });  // not running: nothing happens
    lanes.interrupt_if([](const int& item) { return item == 0; });
    BOOST_TEST(eventually([&] { return done == 4; }));  // the items after it ran, in the same lane
    BOOST_TEST(stuck_cancelled.load());
    lanes.close();
    BOOST_TEST(scope.wait_idle_for(5s));
  }
}

BOOST_AUTO_TEST_CASE(unordered_lanes_bound_concurrency) {
  io_pool pool(2);
  task_scope scope;
  std::atomic<int> running{0}, max_running{0}, done{0};
  {
    lane_group<int> lanes(
        scope, pool, lane_shape::unordered(4, 100),
        [&](int) -> asio::awaitable<void> {
          const int now = ++running;
          for (int prev = max_running; now > prev && !max_running.compare_exchange_weak(prev, now);) {
          }
          co_await sleep_for(200us);
          --running;
          ++done;
        },
        "test workers");
    run(pool.get_executor(), [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 200; ++i) co_await lanes.push(0, i);
    });
    BOOST_TEST(eventually([&] { return done == 200; }));
  }
  BOOST_TEST(scope.wait_idle_for(5s));
  BOOST_TEST(max_running <= 4);
  BOOST_TEST(max_running > 1);
}

BOOST_AUTO_TEST_CASE(a_gate_counts_its_holders_and_refuses_entries_once_closing) {
  gate g;
  {
    auto a = g.enter("publish");
    auto b = g.enter("publish");
    BOOST_TEST(g.count() == 2u);
    auto moved = std::move(a);  // still one entry
    BOOST_TEST(g.count() == 2u);
    b.release();
    BOOST_TEST(g.count() == 1u);
  }
  BOOST_TEST(g.count() == 0u);
  auto inside = g.enter("publish");
  g.close();
  BOOST_TEST(g.closed());
  BOOST_TEST(!g.close_and_wait_for(std::chrono::milliseconds(10)));  // still inside
  BOOST_TEST(!g.try_enter());
  try {
    g.enter("publish");
    BOOST_FAIL("expected errc::closed");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == errc::closed));
    BOOST_TEST(std::string(e.what()).find("publish") != std::string::npos);
  }
  std::thread leaver([h = std::move(inside)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    h.release();
  });
  BOOST_TEST(g.close_and_wait_for(std::chrono::seconds(10)));  // woken by the leave, not a poll
  leaver.join();
}

namespace {

// An operation in corobus's model whose starter counts the tasks it starts.
struct counted_start {
  std::atomic<int>* started;
  asio::any_io_executor ex;
  void operator()(asio::awaitable<int> body, corobus::any_handler_of<int> handler) const {
    ++*started;
    corobus::start_on(ex)(std::move(body), std::move(handler));
  }
};

asio::awaitable<int> answer(bool fail) {
  if (fail) corobus::throw_error(errc::invalid_config, "asked to fail");
  co_return 42;
}

template <class Token>
auto async_answer(bool fail, std::atomic<int>& started, asio::any_io_executor ex, Token&& token) {
  return corobus::launch(answer(fail), std::forward<Token>(token), counted_start{&started, std::move(ex)});
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_form_of_use_awaitable_runs_inline_and_other_tokens_start_a_task) {
  io_pool pool(1);
  std::atomic<int> started{0};
  const asio::any_io_executor ex = pool.make_strand();
  run(ex, [&]() -> asio::awaitable<void> {
    BOOST_TEST(co_await async_answer(false, started, ex, asio::use_awaitable) == 42);
    const auto [ec, value] = co_await async_answer(false, started, ex, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!ec);
    BOOST_TEST(value == 42);
    const auto [failed, none] = co_await async_answer(true, started, ex, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST((failed == errc::invalid_config));
    BOOST_TEST(none == 0);
    boost::system::error_code redirected;
    BOOST_TEST(co_await async_answer(true, started, ex, asio::redirect_error(asio::use_awaitable, redirected)) == 0);
    BOOST_TEST((redirected == errc::invalid_config));
    BOOST_TEST(co_await async_answer(false, started, ex, asio::redirect_error(asio::use_awaitable, redirected)) == 42);
    BOOST_TEST(!redirected);
  });
  BOOST_TEST(started.load() == 0);  // all of them in the awaiting coroutine
  BOOST_TEST(async_answer(false, started, ex, asio::use_future).get() == 42);
  BOOST_TEST(started.load() == 1);  // a task of its own
}

BOOST_AUTO_TEST_CASE(a_gate_closes_when_its_last_holder_leaves_with_any_completion_token) {
  io_pool pool(2);
  {
    gate empty;
    BOOST_CHECK_NO_THROW(empty.async_close(asio::use_future).get());  // empty: at once
  }
  gate g;
  auto h = g.enter("work");
  auto closed = g.async_close(asio::use_future);
  BOOST_TEST((closed.wait_for(std::chrono::milliseconds(20)) == std::future_status::timeout));
  asio::post(pool.get_executor(), [h = std::move(h)]() mutable { h.release(); });  // leaves on an io thread
  BOOST_TEST((closed.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
  closed.get();
  // Awaited from a coroutine, as bus code does; a callback token too.
  gate second;
  auto inside = std::make_shared<gate::holder>(second.enter("work"));
  std::atomic<bool> called{false};
  second.async_close([&](boost::system::error_code ec) { called = !ec; });
  run(pool.make_strand(), [&]() -> asio::awaitable<void> {
    const auto ex = co_await asio::this_coro::executor;  // not in one expression: see publish_options
    asio::post(ex, [inside] { inside->release(); });
    co_await second.async_close();
  });
  BOOST_TEST(eventually([&] { return called.load(); }));
}

BOOST_AUTO_TEST_CASE(a_gate_close_is_cancelled_through_its_cancellation_slot) {
  io_pool pool(1);
  gate g;
  auto h = g.enter("work");
  asio::cancellation_signal signal;
  auto strand = pool.make_strand();
  auto waited = g.async_close(asio::bind_cancellation_slot(signal.slot(), asio::use_future));
  asio::post(strand, [&] { signal.emit(asio::cancellation_type::terminal); });
  BOOST_TEST((waited.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
  try {
    waited.get();
    BOOST_FAIL("expected operation_aborted");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == asio::error::operation_aborted));
  }
  BOOST_TEST(g.closed());  // cancelling the wait does not reopen the gate
  BOOST_TEST(!g.try_enter());
  auto again = g.async_close(asio::use_future);
  h.release();
  BOOST_TEST((again.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
}

BOOST_AUTO_TEST_CASE(a_blocking_call_runs_off_the_io_threads_and_completes_back_on_them) {
  const auto threads_before = thread_count();
  {
    io_pool pool(1);
    blocking_pool blocking(1);
    const auto results = run(pool.get_executor(), [&]() -> asio::awaitable<std::tuple<bool, bool, int>> {
      bool called_off_the_pool = false;
      const int answer = co_await blocking.async_call([&] {
        called_off_the_pool = !pool.running_in_this_thread();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a call that blocks
        return 42;
      });
      co_return std::tuple{called_off_the_pool, pool.running_in_this_thread(), answer};
    });
    BOOST_TEST(std::get<0>(results));  // it ran on the blocking thread
    BOOST_TEST(std::get<1>(results));  // and the coroutine resumed on its own executor
    BOOST_TEST(std::get<2>(results) == 42);
    // A failure is a code (as_tuple) or an exception (the default token).
    run(pool.get_executor(), [&]() -> asio::awaitable<void> {
      auto [ec] = co_await blocking.async_call([] { throw_error(errc::timeout, "too slow"); },
                                               asio::as_tuple(asio::use_awaitable));
      BOOST_TEST((ec == errc::timeout));
      auto [other] =
          co_await blocking.async_call([] { throw std::runtime_error("odd"); }, asio::as_tuple(asio::use_awaitable));
      BOOST_TEST((other == errc::internal));
    });
    BOOST_TEST(blocking.async_call([] { return 7; }, asio::use_future).get() == 7);
    blocking.shutdown();
    BOOST_CHECK_EXCEPTION(blocking.async_call([] { return 1; }, asio::use_future).get(), boost::system::system_error,
                          [](const auto& e) { return e.code() == errc::closed; });
    pool.shutdown();
  }
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
}

BOOST_AUTO_TEST_SUITE_END()
