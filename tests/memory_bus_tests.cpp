// The bus API on the in-memory backend: delivery, groups, streams, retries, dead letters,
// bad input, backpressure.
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
  c.retry = retry_policy{3, std::chrono::milliseconds(1), std::chrono::milliseconds(4)};
  c.close_grace = std::chrono::milliseconds(2000);
  return c;
}

template <class F>
boost::system::error_code error_of(bus& b, F make) {
  return run(b.get_executor(), [&] { return error_code_of(make); });
}

// Collects what a subscription received, thread-safe.
template <class T>
struct inbox {
  std::mutex m;
  std::vector<T> items;
  void add(T v) {
    std::lock_guard lock(m);
    items.push_back(std::move(v));
  }
  std::size_t size() {
    std::lock_guard lock(m);
    return items.size();
  }
  std::vector<T> copy() {
    std::lock_guard lock(m);
    return items;
  }
  // A handler that keeps what it is given.
  auto collector() {
    return [this](const T& v) -> asio::awaitable<void> {
      add(v);
      co_return;
    };
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_bus, *boost::unit_test::label("memory"))

BOOST_AUTO_TEST_CASE(publish_and_subscribe_raw_messages) {
  bus b(fast_config());
  inbox<message> got;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("raw", got.collector());
    for (int i = 0; i < 10; ++i) {
      publish_options options;
      options.key = "k" + std::to_string(i);
      options.headers.push_back(header{"h", "v"});
      auto r = co_await b.async_publish("raw", "payload-" + std::to_string(i), std::move(options));
      BOOST_TEST(r.topic == "raw");
      BOOST_TEST(r.offset == i);
    }
  });
  BOOST_TEST(eventually([&] { return got.size() == 10; }));
  auto items = got.copy();
  std::sort(items.begin(), items.end(), [](auto& a, auto& c) { return a.offset < c.offset; });
  BOOST_TEST(items[3].payload == "payload-3");
  BOOST_TEST(items[3].key == "k3");
  BOOST_TEST(items[3].topic == "raw");
  BOOST_TEST(*find_header(items[3].headers, "h") == "v");
  BOOST_TEST(b.metrics().published == 10u);
  BOOST_TEST(eventually([&] { return b.metrics().delivered == 10u; }));
}

BOOST_AUTO_TEST_CASE(subscriptions_are_independent_groups_and_a_shared_group_splits_the_work) {
  bus b(fast_config());
  std::atomic<int> a{0}, c{0}, shared1{0}, shared2{0};
  auto count = [](std::atomic<int>& n) {
    return [&n](const envelope&) -> asio::awaitable<void> {
      ++n;
      co_return;
    };
  };
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("orders", count(a));
    co_await b.async_subscribe_envelopes("orders", count(c));
    auto s1 = co_await b.async_subscribe_envelopes("orders", count(shared1), subscribe_options("billing"));
    auto s2 = co_await b.async_subscribe_envelopes("orders", count(shared2), subscribe_options("billing"));
    BOOST_TEST(s1.group() == "billing");
    BOOST_TEST(s2.topic() == "orders");
    for (int i = 0; i < 400; ++i)
      co_await b.async_publish_envelope("orders", envelope::make("agg-" + std::to_string(i), "Created", 1, "{}"));
  });
  BOOST_TEST(eventually([&] { return a == 400 && c == 400 && shared1 + shared2 == 400; }));
  BOOST_TEST(shared1 > 0);
  BOOST_TEST(shared2 > 0);
}

BOOST_AUTO_TEST_CASE(envelopes_arrive_whole) {
  bus b(fast_config());
  inbox<envelope> got;
  auto sent = envelope::make("order-7", "OrderPlaced", 2, R"({"total":10})");
  sent.tenant_id = "acme";
  sent.trace_id = "t-1";
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("orders", got.collector());
    co_await b.async_publish_envelope("orders", sent);
  });
  BOOST_TEST(eventually([&] { return got.size() == 1; }));
  BOOST_TEST((got.copy().front() == sent));
}

BOOST_AUTO_TEST_CASE(a_batch_of_envelopes_arrives_in_order_with_a_result_each) {
  bus b(fast_config());
  inbox<envelope> got;
  std::vector<envelope> batch;
  for (int v = 1; v <= 50; ++v) batch.push_back(envelope::make(v % 2 ? "odd" : "even", "Counted", (v + 1) / 2, "{}"));
  const auto sent = batch;
  std::vector<publish_result> results;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("counts", got.collector());
    results = co_await b.async_publish_envelopes("counts", batch);
    std::vector<envelope> empty;  // named: g++ 12 destroys a braced temporary in a co_await twice
    auto none = co_await b.async_publish_envelopes("counts", empty);
    BOOST_TEST(none.empty());
  });
  BOOST_TEST_REQUIRE(results.size() == sent.size());
  for (std::size_t i = 1; i < results.size(); ++i) BOOST_TEST(results[i].offset > results[i - 1].offset);
  BOOST_TEST_REQUIRE(eventually([&] { return got.size() == sent.size(); }));
  std::map<std::string, std::int64_t> last;
  for (const auto& e : got.copy()) BOOST_TEST(e.event_version == ++last[e.aggregate_id]);  // each aggregate in order
  BOOST_TEST(b.metrics().published == sent.size());
}

BOOST_AUTO_TEST_CASE(raw_subscribers_see_envelope_json_and_metadata_headers) {
  bus b(fast_config());
  inbox<message> got;
  const auto sent = envelope::make("order-8", "OrderPlaced", 1, R"({"n":1})");
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("orders", got.collector());
    co_await b.async_publish_envelope("orders", sent);
  });
  BOOST_TEST(eventually([&] { return got.size() == 1; }));
  const auto m = got.copy().front();
  BOOST_TEST(m.key == "order-8");
  BOOST_TEST((envelope::decode(m.payload) == sent));
  BOOST_TEST(*find_header(m.headers, "X-Event-ID") == sent.event_id);
}

BOOST_AUTO_TEST_CASE(raw_json_published_to_an_envelope_subscriber_is_decoded) {
  bus b(fast_config());
  inbox<envelope> got;
  const auto sent = envelope::make("order-9", "OrderPlaced", 4, R"({"n":2})");
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("orders", got.collector());
    co_await b.async_publish("orders", sent.encode());
  });
  BOOST_TEST(eventually([&] { return got.size() == 1; }));
  BOOST_TEST((got.copy().front() == sent));
}

BOOST_AUTO_TEST_CASE(a_stream_is_a_pull_loop_with_ack) {
  bus b(fast_config());
  std::vector<std::string> got;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    auto s = co_await b.async_stream("audit");
    BOOST_TEST(s.topic() == "audit");
    for (int i = 0; i < 5; ++i) co_await b.async_publish("audit", std::to_string(i));
    while (got.size() < 5) {
      auto d = co_await s.async_next();
      BOOST_REQUIRE(d.has_value());
      BOOST_TEST(d->attempt() == 1u);
      got.push_back(d->message().payload);
      co_await d->async_ack();
    }
  });
  BOOST_TEST((got == std::vector<std::string>{"0", "1", "2", "3", "4"}));
  BOOST_TEST(b.metrics().delivered == 5u);
  BOOST_TEST(b.metrics().in_flight == 0);
}

BOOST_AUTO_TEST_CASE(close_gives_a_stream_reader_the_grace_period_to_take_and_ack_what_is_queued) {
  bus b(fast_config());  // 2 s grace
  std::atomic<int> acked{0};
  std::promise<void> reading;
  auto reader = asio::co_spawn(b.get_executor(), [&]() -> asio::awaitable<void> {
    auto s = co_await b.async_stream("audit");
    for (int i = 0; i < 20; ++i) co_await b.async_publish("audit", std::to_string(i));
    reading.set_value();
    while (auto d = co_await s.async_next()) {
      co_await sleep_for(2ms);  // a slow reader: close begins while it still works
      co_await d->async_ack();
      ++acked;
    }
  }, asio::use_future);
  reading.get_future().wait();
  b.close();
  BOOST_TEST(acked == 20);
  BOOST_TEST(b.metrics().delivered == 20u);
  BOOST_TEST(b.metrics().abandoned == 0u);
  BOOST_TEST((reader.wait_for(0s) == std::future_status::ready));  // its loop saw the end
}

BOOST_AUTO_TEST_CASE(a_stream_ends_when_the_bus_closes) {
  bus b(fast_config());
  auto ended = asio::co_spawn(b.get_executor(), [&]() -> asio::awaitable<bool> {
    auto s = co_await b.async_stream("audit");
    auto d = co_await s.async_next();
    co_return !d.has_value();
  }, asio::use_future);
  BOOST_TEST((ended.wait_for(20ms) == std::future_status::timeout));
  std::thread closer([&] { b.close(); });
  BOOST_TEST((ended.wait_for(10s) == std::future_status::ready));
  BOOST_TEST(ended.get());
  closer.join();
}

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

BOOST_AUTO_TEST_CASE(unsubscribe_stops_new_messages_and_finishes_what_was_accepted) {
  bus b(fast_config());
  std::atomic<bool> open{false};
  std::atomic<int> first_v1{0}, first_v2{0}, second_v1{0}, second_v2{0};
  const auto tasks_before = b.metrics().live_tasks;
  auto count = [](std::atomic<int>& v1, std::atomic<int>& v2, const envelope& e) { ++(e.event_version == 1 ? v1 : v2); };
  auto sub = run(b.get_executor(), [&]() -> asio::awaitable<subscription> {
    co_await b.async_subscribe_envelopes("orders", [&](const envelope& e) -> asio::awaitable<void> {
      count(second_v1, second_v2, e);
      co_return;
    }, subscribe_options("shared"));
    auto s = co_await b.async_subscribe_envelopes("orders", [&](const envelope& e) -> asio::awaitable<void> {
      co_await eventually_async([&] { return open.load(); });  // holds its share until unsubscribed
      count(first_v1, first_v2, e);
    }, subscribe_options("shared"));
    for (int i = 0; i < 40; ++i) co_await b.async_publish_envelope("orders", envelope::make("k" + std::to_string(i), "T", 1, "{}"));
    co_return s;
  });
  BOOST_TEST(sub.group() == "shared");
  sub.unsubscribe();
  sub.unsubscribe();  // idempotent
  open = true;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 40; ++i) co_await b.async_publish_envelope("orders", envelope::make("k" + std::to_string(i), "T", 2, "{}"));
  });
  // Every version-1 message handled once (the first member finished its share after leaving);
  // every version-2 message, published after it left, went to the second member.
  BOOST_TEST(eventually([&] { return first_v1 + second_v1 == 40 && second_v2 == 40; }));
  BOOST_TEST(first_v1 > 0);
  BOOST_TEST(first_v2 == 0);
  BOOST_TEST(eventually([&] { return b.metrics().live_tasks == tasks_before + 256; }));  // its lanes ended
  BOOST_TEST(b.metrics().abandoned == 0u);
}

BOOST_AUTO_TEST_CASE(a_delivery_stays_readable_after_ack) {
  bus b(fast_config());
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    auto s = co_await b.async_stream("audit");
    co_await b.async_publish("audit", "kept");
    auto d = co_await s.async_next();
    co_await d->async_ack();
    BOOST_TEST(d->message().payload == "kept");
    BOOST_TEST(d->attempt() == 1u);
  });
}

BOOST_AUTO_TEST_CASE(a_dropped_stream_ends_its_subscription_and_never_holds_publishers_back) {
  auto cfg = fast_config();
  cfg.stream_capacity = 10;
  bus b(cfg);
  std::atomic<int> handled{0};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("audit", [&](const message&) -> asio::awaitable<void> {
      ++handled;
      co_return;
    });
    {
      auto forgotten = co_await b.async_stream("audit");
      for (int i = 0; i < 5; ++i) co_await b.async_publish("audit", "queued");
    }  // the last handle goes: the 5 it held are abandoned, and it receives no more
    for (int i = 0; i < 100; ++i) co_await b.async_publish("audit", "after");  // would block at 10 otherwise
  });
  BOOST_TEST(eventually([&] { return handled == 105; }));
  BOOST_TEST(b.metrics().abandoned == 5u);
  BOOST_TEST(eventually([&] { return b.metrics().in_flight == 0; }));
}

BOOST_AUTO_TEST_CASE(a_nacked_or_dropped_delivery_comes_back_then_goes_to_the_dead_letter_topic) {
  bus b(fast_config());  // 3 attempts
  inbox<message> dead;
  std::vector<unsigned> attempts;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("jobs.dlq", dead.collector());
    auto s = co_await b.async_stream("jobs");
    co_await b.async_publish("jobs", "job-1", publish_options("j1"));
    {
      auto d = co_await s.async_next();
      attempts.push_back(d->attempt());
      co_await d->async_nack("first failure");
    }
    {
      auto d = co_await s.async_next();
      attempts.push_back(d->attempt());
      // dropped without ack: counts as a failure
    }
    auto d = co_await s.async_next();
    attempts.push_back(d->attempt());
    co_await d->async_nack("last failure");
  });
  BOOST_TEST((attempts == std::vector<unsigned>{1, 2, 3}));
  BOOST_TEST(eventually([&] { return dead.size() == 1; }));
  const auto m = dead.copy().front();
  BOOST_TEST(m.payload == "job-1");
  BOOST_TEST(m.key == "j1");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::error) == "last failure");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::origin_topic) == "jobs");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::attempts) == "3");
  BOOST_TEST(b.metrics().dead_lettered == 1u);
  BOOST_TEST(b.metrics().retried == 2u);
}

BOOST_AUTO_TEST_CASE(a_failing_handler_is_retried_then_dead_lettered_with_its_error_and_origin) {
  bus b(fast_config());
  std::atomic<int> calls{0};
  inbox<message> dead;
  const auto warnings_before = logged_warnings();
  const auto poison = envelope::make("order-1", "OrderPlaced", 1, R"({"bad":true})");
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("orders.dlq", dead.collector());
    co_await b.async_subscribe_envelopes("orders", [&](const envelope&) -> asio::awaitable<void> {
      ++calls;
      throw std::runtime_error("database is down");
      co_return;
    });
    co_await b.async_publish_envelope("orders", poison);
  });
  BOOST_TEST(eventually([&] { return dead.size() == 1; }));
  BOOST_TEST(calls == 3);
  const auto m = dead.copy().front();
  BOOST_TEST((envelope::decode(m.payload) == poison));  // the original, whole
  BOOST_TEST(m.key == "order-1");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::error) == "database is down");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::origin_topic) == "orders");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::origin_offset) == "0");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::attempts) == "3");
  // The dead letter can arrive before its writer counted it: the counts are read once
  // nothing is in flight.
  BOOST_TEST(eventually([&] { return b.metrics().in_flight == 0; }));
  const auto stats = b.metrics();
  BOOST_TEST(stats.retried == 2u);
  BOOST_TEST(stats.dead_lettered == 1u);
  BOOST_TEST(stats.delivered == 1u);  // the dead-letter subscriber's message
  BOOST_TEST(logged_warnings() > warnings_before);
}

// Every accepted publish ends in exactly one counter (metrics.hpp): handled, dead-lettered
// (retried out, or undecodable), unrouted, or abandoned at close.
BOOST_AUTO_TEST_CASE(every_publish_is_accounted_for_once_the_bus_closed) {
  auto cfg = fast_config();
  cfg.close_grace = std::chrono::milliseconds(50);
  bus b(cfg);
  std::atomic<bool> release{false};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("orders", [&](const envelope& e) -> asio::awaitable<void> {
      if (e.event_version % 5 == 0) throw std::runtime_error("rejected");
      if (e.aggregate_id == "slow")  // still running at close: cancelled, so abandoned
        while (!release) co_await sleep_for(std::chrono::milliseconds(1));
      co_return;
    });
    for (int v = 1; v <= 50; ++v) co_await b.async_publish_envelope("orders", envelope::make("agg", "Changed", v, "{}"));
    co_await b.async_publish("orders", "not an envelope", publish_options("agg"));
    for (int i = 0; i < 7; ++i) co_await b.async_publish("nowhere", "nobody listens");
    for (int v = 1; v <= 3; ++v) co_await b.async_publish_envelope("orders", envelope::make("slow", "Changed", v, "{}"));
  });
  BOOST_TEST_REQUIRE(eventually([&] { return b.metrics().delivered + b.metrics().dead_lettered == 51u; }));
  b.close();
  release = true;
  const auto m = b.metrics();
  BOOST_TEST(m.published == 61u);
  BOOST_TEST(m.dead_lettered == 11u);  // 10 rejected after their attempts, 1 undecodable
  BOOST_TEST(m.unrouted == 7u);        // dead letters nobody reads are not counted here
  BOOST_TEST(m.abandoned == 3u);
  BOOST_TEST(m.in_flight == 0);
  BOOST_TEST(m.published == m.delivered + m.dead_lettered + m.held + m.abandoned + m.rebalanced + m.lost + m.unrouted +
                                static_cast<std::uint64_t>(m.in_flight));
}

BOOST_AUTO_TEST_CASE(a_retried_message_holds_back_the_later_messages_of_its_key) {
  bus b(fast_config());
  inbox<std::int64_t> order;
  std::atomic<int> failures_left{2};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("orders", [&](const envelope& e) -> asio::awaitable<void> {
      if (e.event_version == 1 && failures_left-- > 0) throw std::runtime_error("transient");
      order.add(e.event_version);
      co_return;
    });
    for (int v = 1; v <= 5; ++v) co_await b.async_publish_envelope("orders", envelope::make("agg", "Changed", v, "{}"));
  });
  BOOST_TEST(eventually([&] { return order.size() == 5; }));
  BOOST_TEST((order.copy() == std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  BOOST_TEST(b.metrics().dead_lettered == 0u);
  BOOST_TEST(b.metrics().retried == 2u);
}

BOOST_AUTO_TEST_CASE(a_poison_envelope_goes_to_the_dead_letter_topic_at_once) {
  bus b(fast_config());
  std::atomic<int> calls{0};
  inbox<message> dead;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("orders.dlq", dead.collector());
    co_await b.async_subscribe_envelopes("orders", [&](const envelope&) -> asio::awaitable<void> {
      ++calls;
      co_return;
    });
    co_await b.async_publish("orders", "{this is not an envelope", publish_options("k"));
    co_await b.async_publish("orders", R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":0,"payload":{}})");
  });
  BOOST_TEST(eventually([&] { return dead.size() == 2; }));
  BOOST_TEST(calls == 0);
  const auto first = dead.copy();
  for (const auto& m : first) {
    BOOST_TEST(find_header(m.headers, dead_letter_headers::error)->find("undecodable envelope") == 0u);
    BOOST_TEST(*find_header(m.headers, dead_letter_headers::attempts) == "0");
  }
  BOOST_TEST(b.metrics().undecodable == 2u);
  BOOST_TEST(b.metrics().retried == 0u);
}

BOOST_AUTO_TEST_CASE(an_invalid_envelope_is_rejected_at_publish_and_nothing_is_sent) {
  bus b(fast_config());
  std::atomic<int> calls{0};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("orders", [&](const message&) -> asio::awaitable<void> {
      ++calls;
      co_return;
    });
  });
  auto e = envelope::make("bad id with spaces", "T", 1, "{}");
  BOOST_TEST((error_of(b, [&] { return b.async_publish_envelope("orders", e); }) == errc::invalid_envelope));
  e = envelope::make("ok", "T", 0, "{}");
  BOOST_TEST((error_of(b, [&] { return b.async_publish_envelope("orders", e); }) == errc::invalid_envelope));
  e = envelope::make("ok", "T", 1, "");
  BOOST_TEST((error_of(b, [&] { return b.async_publish_envelope("orders", e); }) == errc::invalid_envelope));
  // In a batch, one invalid envelope stops them all.
  std::vector<envelope> batch{envelope::make("ok", "T", 1, "{}"), e};
  BOOST_TEST((error_of(b, [&] { return b.async_publish_envelopes("orders", batch); }) == errc::invalid_envelope));
  BOOST_TEST(b.metrics().published == 0u);
  b.close();
  BOOST_TEST(calls == 0);
}

BOOST_AUTO_TEST_CASE(invalid_topic_and_group_names_are_rejected) {
  bus b(fast_config());
  auto nop = [](const message&) -> asio::awaitable<void> { co_return; };
  BOOST_TEST((error_of(b, [&] { return b.async_publish("bad topic", "x"); }) == errc::invalid_topic));
  BOOST_TEST((error_of(b, [&] { return b.async_publish("", "x"); }) == errc::invalid_topic));
  BOOST_TEST((error_of(b, [&]() -> asio::awaitable<void> { co_await b.async_subscribe("a*", nop); }) == errc::invalid_topic));
  BOOST_TEST((error_of(b, [&]() -> asio::awaitable<void> { co_await b.async_stream("a..b"); }) == errc::invalid_topic));
  BOOST_TEST((error_of(b, [&]() -> asio::awaitable<void> { co_await b.async_subscribe("ok", nop, subscribe_options("no spaces")); }) ==
              errc::invalid_argument));
  BOOST_TEST((error_of(b, [&]() -> asio::awaitable<void> { co_await b.async_subscribe("ok", message_handler{}); }) ==
              errc::invalid_argument));
  subscribe_options no_concurrency;
  no_concurrency.concurrency = 0;
  BOOST_TEST((error_of(b, [&]() -> asio::awaitable<void> { co_await b.async_subscribe("ok", nop, no_concurrency); }) ==
              errc::invalid_config));
  BOOST_TEST(b.metrics().published == 0u);
}

BOOST_AUTO_TEST_CASE(publish_and_subscribe_after_close_fail_with_closed) {
  bus b(fast_config());
  auto ex = b.get_executor();
  b.close();
  BOOST_TEST(b.closed());
  // The bus's threads are gone, so drive the awaitables on a context of our own.
  asio::io_context io;
  auto code_of = [&](auto make) {
    auto f = asio::co_spawn(io, error_code_of(make), asio::use_future);
    io.restart();
    io.run();
    return f.get();
  };
  auto nop = [](const message&) -> asio::awaitable<void> { co_return; };
  BOOST_TEST((code_of([&] { return b.async_publish("orders", "x"); }) == errc::closed));
  BOOST_TEST((code_of([&] { return b.async_publish_envelope("orders", envelope::make("a", "t", 1, "{}")); }) == errc::closed));
  BOOST_TEST((code_of([&] { return b.async_publish_envelopes("orders", {envelope::make("a", "t", 1, "{}")}); }) == errc::closed));
  BOOST_TEST((code_of([&]() -> asio::awaitable<void> { co_await b.async_subscribe("orders", nop); }) == errc::closed));
  BOOST_TEST((code_of([&]() -> asio::awaitable<void> { co_await b.async_stream("orders"); }) == errc::closed));
  (void)ex;
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
    auto publisher = asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 100; ++i)
        co_await b.async_publish_envelope("slow", envelope::make("k" + std::to_string(i % 7), "T", 1 + i / 7, "{}"));
    }, asio::use_future);
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

BOOST_AUTO_TEST_CASE(unordered_subscriptions_run_handlers_concurrently_up_to_the_limit) {
  bus b(fast_config());
  std::atomic<int> running{0}, max_running{0}, done{0};
  subscribe_options eight;
  eight.concurrency = 8;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("work", [&](const message&) -> asio::awaitable<void> {
      const int now = ++running;
      for (int prev = max_running; now > prev && !max_running.compare_exchange_weak(prev, now);) {}
      co_await sleep_for(1ms);
      --running;
      ++done;
    }, eight);
    for (int i = 0; i < 200; ++i) co_await b.async_publish("work", "x");
  });
  BOOST_TEST(eventually([&] { return done == 200; }));
  BOOST_TEST(max_running <= 8);
  BOOST_TEST(max_running > 1);
}

BOOST_AUTO_TEST_SUITE_END()
