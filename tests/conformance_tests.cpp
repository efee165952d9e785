// The conformance suite (conformance.hpp): what every backend must do, run against each.
// A new backend adds a Target and one COROBUS_CONFORMANCE_SUITE line at the end.
#include <corobus/support/kafka_broker.hpp>
#include "conformance.hpp"
#include "raw_kafka.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace corobus;
using namespace corobus::test;

namespace corobus::conformance {

namespace {

envelope versioned(const std::string& aggregate, std::int64_t version) {
  return envelope::make(aggregate, "Changed", version, R"({"v":1})");
}

}  // namespace

// ---- delivery

template <class Target>
void publish_and_subscribe_raw_messages() {
  bus b(Target::make_config());
  inbox<message> got;
  std::set<std::pair<std::int32_t, std::int64_t>> placed;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("raw", got.collector());
    for (int i = 0; i < 10; ++i) {
      publish_options options;
      options.key = "k" + std::to_string(i);
      options.headers.push_back(header{"h", "v"});
      auto r = co_await b.async_publish("raw", "payload-" + std::to_string(i), std::move(options));
      BOOST_TEST(r.topic == "raw");
      BOOST_TEST(r.offset >= 0);
      placed.emplace(r.partition, r.offset);
    }
  });
  BOOST_TEST(placed.size() == 10u);  // each its own position
  BOOST_TEST_REQUIRE(eventually([&] { return got.size() == 10; }, 30s));
  std::map<std::string, message> by_payload;
  for (auto& m : got.copy()) by_payload[m.payload] = m;
  BOOST_TEST_REQUIRE(by_payload.size() == 10u);
  const auto& third = by_payload["payload-3"];
  BOOST_TEST(third.key == "k3");
  BOOST_TEST(third.topic == "raw");
  BOOST_TEST(*find_header(third.headers, "h") == "v");
  BOOST_TEST(b.metrics().published == 10u);
  BOOST_TEST(eventually([&] { return b.metrics().delivered == 10u; }));
}

template <class Target>
void subscriptions_are_independent_groups_and_a_shared_group_splits_the_work() {
  bus b(Target::make_config());
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
  BOOST_TEST(eventually([&] { return a == 400 && c == 400 && shared1 + shared2 == 400; }, 30s));
  BOOST_TEST(shared1 > 0);
  BOOST_TEST(shared2 > 0);
}

template <class Target>
void envelopes_arrive_whole() {
  bus b(Target::make_config());
  inbox<envelope> got;
  auto sent = envelope::make("order-7", "OrderPlaced", 2, R"({"total":10})");
  sent.tenant_id = "acme";
  sent.trace_id = "t-1";
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("orders", got.collector());
    co_await b.async_publish_envelope("orders", sent);
  });
  BOOST_TEST_REQUIRE(eventually([&] { return got.size() == 1; }, 30s));
  BOOST_TEST((got.copy().front() == sent));
}

template <class Target>
void raw_subscribers_see_envelope_json_and_metadata_headers() {
  bus b(Target::make_config());
  inbox<message> got;
  const auto sent = envelope::make("order-8", "OrderPlaced", 1, R"({"n":1})");
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("orders", got.collector());
    co_await b.async_publish_envelope("orders", sent);
  });
  BOOST_TEST_REQUIRE(eventually([&] { return got.size() == 1; }, 30s));
  const auto m = got.copy().front();
  BOOST_TEST(m.key == "order-8");
  BOOST_TEST((envelope::decode(m.payload) == sent));
  BOOST_TEST(*find_header(m.headers, "X-Event-ID") == sent.event_id);
}

template <class Target>
void raw_json_published_to_an_envelope_subscriber_is_decoded() {
  bus b(Target::make_config());
  inbox<envelope> got;
  const auto sent = envelope::make("order-9", "OrderPlaced", 4, R"({"n":2})");
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("orders", got.collector());
    co_await b.async_publish("orders", sent.encode());
  });
  BOOST_TEST_REQUIRE(eventually([&] { return got.size() == 1; }, 30s));
  BOOST_TEST((got.copy().front() == sent));
}

// `aggregates` × `per_aggregate` envelopes, published version by version across all
// aggregates, to a handler that suspends for a random short time: each aggregate's versions
// arrive in order, while different aggregates run at once. Also the stress case.
template <class Target>
void keyed_order(int aggregates, int per_aggregate) {
  const int total = aggregates * per_aggregate;
  bus b(Target::make_config());
  // Each aggregate is only ever touched by its own lane, one message at a time, so plain
  // per-aggregate slots are enough; the strand hand-over orders the accesses.
  std::vector<std::int64_t> last(aggregates, 0);
  std::atomic<int> violations{0}, handled{0}, running{0}, max_running{0};
  std::atomic<long long> overlapped{0};  // handler starts that found another handler running
  run(
      b.get_executor(),
      [&]() -> asio::awaitable<void> {
        co_await b.async_subscribe_envelopes("ordered", [&](const envelope& e) -> asio::awaitable<void> {
          const int now = ++running;
          if (now > 1) ++overlapped;
          for (int prev = max_running; now > prev && !max_running.compare_exchange_weak(prev, now);) {
          }
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
        // One version of every aggregate at a time, as a batch: many in flight at once, so
        // that a transport which hands over each message as it comes (JetStream) has as many
        // at hand as the one that fetches in batches (Kafka).
        for (int v = 1; v <= per_aggregate; ++v) {
          std::vector<envelope> batch;
          for (int a = 0; a < aggregates; ++a) batch.push_back(versioned("agg-" + std::to_string(a), v));
          co_await b.async_publish_envelopes("ordered", batch);
        }
      },
      std::chrono::seconds(300));

  BOOST_TEST(eventually([&] { return handled == total; }, 120s));
  b.close();
  BOOST_TEST(violations == 0);
  for (int a = 0; a < aggregates; ++a) BOOST_TEST_REQUIRE(last[a] == per_aggregate);
  BOOST_TEST_MESSAGE("max concurrent handlers " << max_running << ", overlapping starts " << overlapped);
  BOOST_TEST(max_running > 8);          // different keys ran at the same time
  BOOST_TEST(overlapped > total / 10);  // and not just now and then
  BOOST_TEST(b.metrics().delivered == static_cast<std::uint64_t>(total));
  BOOST_TEST(b.metrics().live_tasks == 0u);
}

template <class Target>
void envelopes_keep_their_order_per_aggregate_under_handlers_that_suspend() {
  keyed_order<Target>(200, 20);
}

// Envelopes as a producer that is not corobus may write them: raw records whose key is
// missing (NATS: no header at all), the aggregate id, or another key, interleaved within each
// aggregate, on one partition. Two subscriptions share a group, and handlers suspend: each
// aggregate's versions are still handled in order, by one member, since its aggregate id (read
// from the payload) picks the member and the lane, whatever the key says.
template <class Target>
void envelopes_written_without_their_key_or_with_another_keep_their_order() {
  constexpr int aggregates = 50, versions = 10;
  auto cfg = Target::make_config();
  cfg.kafka.partitions = 1;  // keyless records on one partition, so their order is the log's
  bus b(cfg);
  std::mutex mutex;
  std::map<std::string, std::int64_t> last;  // under mutex
  std::map<std::string, std::set<int>> members_of;
  int steps_back = 0, handled = 0;
  auto member = [&](int id) {
    return [&, id](const envelope& e) -> asio::awaitable<void> {
      thread_local std::minstd_rand rng{std::random_device{}()};
      co_await sleep_for(std::chrono::microseconds(rng() % 300));
      std::lock_guard lock(mutex);
      if (e.event_version < last[e.aggregate_id]) ++steps_back;
      last[e.aggregate_id] = e.event_version;
      members_of[e.aggregate_id].insert(id);
      ++handled;
    };
  };
  const subscribe_options group("foreign-producers");
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("foreign", member(1), group);
    co_await b.async_subscribe_envelopes("foreign", member(2), group);
    for (int v = 1; v <= versions; ++v)
      for (int a = 0; a < aggregates; ++a) {
        const auto id = "agg-" + std::to_string(a);
        const std::string key = v % 3 == 0 ? "" : v % 3 == 1 ? id : "shard-" + std::to_string(a % 4);
        co_await b.async_publish("foreign", versioned(id, v).encode(), publish_options(key));
      }
  });
  BOOST_TEST_REQUIRE(eventually(
      [&] {
        std::lock_guard lock(mutex);
        return handled == aggregates * versions;
      },
      60s));
  b.close();
  BOOST_TEST(steps_back == 0);
  for (const auto& [id, version] : last) BOOST_TEST(version == versions);
  for (const auto& [id, members] : members_of)
    BOOST_TEST(members.size() == 1u, id << " went to " << members.size() << " members");
  BOOST_TEST(b.metrics().dead_lettered == 0u);
}

template <class Target>
void batches_of_envelopes_keep_their_order_and_each_gets_its_result() {
  constexpr int aggregates = 20, per_aggregate = 100, versions_per_batch = 5;
  bus b(Target::make_config());
  inbox<envelope> got;
  // Per aggregate: the partition and offset of each version, from the results.
  std::map<std::string, std::vector<publish_result>> placed;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("batched", got.collector());
    // Each batch: the next versions of every aggregate, interleaved.
    for (int first = 1; first <= per_aggregate; first += versions_per_batch) {
      std::vector<envelope> batch;
      for (int v = first; v < first + versions_per_batch; ++v)
        for (int a = 0; a < aggregates; ++a) batch.push_back(versioned("agg-" + std::to_string(a), v));
      const auto results = co_await b.async_publish_envelopes("batched", batch);
      BOOST_TEST_REQUIRE(results.size() == batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) placed[batch[i].aggregate_id].push_back(results[i]);
    }
    std::vector<envelope> empty;  // named: g++ 12 destroys a braced temporary in a co_await twice
    auto none = co_await b.async_publish_envelopes("batched", empty);
    BOOST_TEST(none.empty());
    std::vector<envelope> invalid{versioned("agg-0", per_aggregate + 1),
                                  envelope::make("agg-0", "", per_aggregate + 2, "{}")};
    BOOST_TEST((co_await error_code_of([&] { return b.async_publish_envelopes("batched", invalid); }) ==
                errc::invalid_envelope));
  });
  BOOST_TEST_REQUIRE(placed.size() == static_cast<std::size_t>(aggregates));
  for (const auto& [aggregate, results] : placed) {  // one partition per key, offsets in version order
    BOOST_TEST_REQUIRE(results.size() == static_cast<std::size_t>(per_aggregate));
    for (std::size_t i = 1; i < results.size(); ++i) {
      BOOST_TEST(results[i].partition == results[0].partition);
      BOOST_TEST(results[i].offset > results[i - 1].offset);
    }
  }
  constexpr auto total = static_cast<std::size_t>(aggregates * per_aggregate);
  BOOST_TEST_REQUIRE(eventually([&] { return got.size() >= total; }, 60s));
  b.close();
  std::map<std::string, std::int64_t> last;
  for (const auto& e : got.copy()) BOOST_TEST_REQUIRE(e.event_version == ++last[e.aggregate_id]);  // each in order
  BOOST_TEST(got.size() == total);  // the invalid batch sent nothing
  BOOST_TEST(b.metrics().published == total);
}

template <class Target>
void unordered_subscriptions_run_handlers_concurrently_up_to_the_limit() {
  bus b(Target::make_config());
  std::atomic<int> running{0}, max_running{0}, done{0};
  subscribe_options eight;
  eight.concurrency = 8;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe(
        "work",
        [&](const message&) -> asio::awaitable<void> {
          const int now = ++running;
          for (int prev = max_running; now > prev && !max_running.compare_exchange_weak(prev, now);) {
          }
          co_await sleep_for(1ms);
          --running;
          ++done;
        },
        eight);
    for (int i = 0; i < 200; ++i) co_await b.async_publish("work", "x");
  });
  BOOST_TEST(eventually([&] { return done == 200; }, 30s));
  BOOST_TEST(max_running <= 8);
  BOOST_TEST(max_running > 1);
}

// ---- retries and dead letters

template <class Target>
void a_retried_message_holds_back_the_later_messages_of_its_key() {
  bus b(Target::make_config());
  inbox<std::int64_t> order;
  std::atomic<int> failures_left{2};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("orders", [&](const envelope& e) -> asio::awaitable<void> {
      if (e.event_version == 1 && failures_left-- > 0) throw std::runtime_error("transient");
      order.add(e.event_version);
      co_return;
    });
    for (int v = 1; v <= 5; ++v) co_await b.async_publish_envelope("orders", versioned("agg", v));
  });
  BOOST_TEST(eventually([&] { return order.size() == 5; }, 30s));
  BOOST_TEST((order.copy() == std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  BOOST_TEST(b.metrics().dead_lettered == 0u);
  BOOST_TEST(b.metrics().retried == 2u);
}

template <class Target>
void a_failing_handler_is_retried_then_dead_lettered_with_its_error_and_origin() {
  bus b(Target::make_config());  // 3 attempts
  std::atomic<int> calls{0};
  inbox<message> dead;
  inbox<std::int64_t> after;
  const auto warnings_before = logged_warnings();
  const auto poison = envelope::make("order-1", "OrderPlaced", 1, R"({"bad":true})");
  std::int64_t poison_offset = -1;  // as the backend numbers it (Kafka from 0, JetStream from 1)
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("orders.dlq", dead.collector());
    co_await b.async_subscribe_envelopes("orders", [&](const envelope& e) -> asio::awaitable<void> {
      if (e.event_version > 1) {  // the aggregate's later versions go on after the dead letter
        after.add(e.event_version);
        co_return;
      }
      ++calls;
      throw std::runtime_error("database is down");
    });
    const auto placed = co_await b.async_publish_envelope("orders", poison);
    poison_offset = placed.offset;
    for (int v = 2; v <= 3; ++v)
      co_await b.async_publish_envelope("orders", envelope::make("order-1", "OrderPlaced", v, "{}"));
  });
  BOOST_TEST_REQUIRE(eventually([&] { return dead.size() == 1 && after.size() == 2; }, 30s));
  BOOST_TEST(calls == 3);
  BOOST_TEST((after.copy() == std::vector<std::int64_t>{2, 3}));
  const auto m = dead.copy().front();
  BOOST_TEST((envelope::decode(m.payload) == poison));  // the original, whole
  BOOST_TEST(m.key == "order-1");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::error) == "database is down");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::origin_topic) == "orders");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::origin_offset) == std::to_string(poison_offset));
  BOOST_TEST(find_header(m.headers, dead_letter_headers::origin_partition) != nullptr);
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::attempts) == "3");
  // The dead letter can arrive before its writer counted it: the counts are read once
  // nothing is in flight.
  BOOST_TEST(eventually([&] { return b.metrics().in_flight == 0; }));
  const auto stats = b.metrics();
  BOOST_TEST(stats.retried == 2u);
  BOOST_TEST(stats.dead_lettered == 1u);
  BOOST_TEST(stats.delivered == 3u);  // the two later versions and the dead-letter subscriber's message
  BOOST_TEST(logged_warnings() > warnings_before);
}

template <class Target>
void a_poison_envelope_goes_to_the_dead_letter_topic_at_once() {
  bus b(Target::make_config());
  std::atomic<int> calls{0};
  inbox<message> dead;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("orders.dlq", dead.collector());
    co_await b.async_subscribe_envelopes("orders", [&](const envelope&) -> asio::awaitable<void> {
      ++calls;
      co_return;
    });
    co_await b.async_publish("orders", "{this is not an envelope", publish_options("k"));
    co_await b.async_publish("orders",
                             R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":0,"payload":{}})");
  });
  BOOST_TEST_REQUIRE(eventually([&] { return dead.size() == 2; }, 30s));
  BOOST_TEST(calls == 0);
  for (const auto& m : dead.copy()) {
    BOOST_TEST(find_header(m.headers, dead_letter_headers::error)->find("undecodable envelope") == 0u);
    BOOST_TEST(*find_header(m.headers, dead_letter_headers::attempts) == "0");
  }
  BOOST_TEST(b.metrics().undecodable == 2u);
  BOOST_TEST(b.metrics().retried == 0u);
}

// ---- streams

template <class Target>
void a_stream_is_a_pull_loop_with_ack() {
  bus b(Target::make_config());
  std::vector<std::string> got;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    auto s = co_await b.async_stream("audit");
    BOOST_TEST(s.topic() == "audit");
    for (int i = 0; i < 5; ++i) co_await b.async_publish("audit", std::to_string(i), publish_options("one key"));
    while (got.size() < 5) {
      auto d = co_await s.async_next();
      BOOST_REQUIRE(d.has_value());
      BOOST_TEST(d->attempt() == 1u);
      got.push_back(d->message().payload);
      co_await d->async_ack();
    }
  });
  BOOST_TEST((got == std::vector<std::string>{"0", "1", "2", "3", "4"}));  // one key: in order
  BOOST_TEST(b.metrics().delivered == 5u);
  BOOST_TEST(b.metrics().in_flight == 0);
}

template <class Target>
void a_delivery_stays_readable_after_ack() {
  bus b(Target::make_config());
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    auto s = co_await b.async_stream("audit");
    co_await b.async_publish("audit", "kept");
    auto d = co_await s.async_next();
    co_await d->async_ack();
    BOOST_TEST(d->message().payload == "kept");
    BOOST_TEST(d->attempt() == 1u);
  });
}

template <class Target>
void a_nacked_or_dropped_delivery_comes_back_then_goes_to_the_dead_letter_topic() {
  bus b(Target::make_config());  // 3 attempts
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
  BOOST_TEST_REQUIRE(eventually([&] { return dead.size() == 1; }, 30s));
  const auto m = dead.copy().front();
  BOOST_TEST(m.payload == "job-1");
  BOOST_TEST(m.key == "j1");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::error) == "last failure");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::origin_topic) == "jobs");
  BOOST_TEST(*find_header(m.headers, dead_letter_headers::attempts) == "3");
  BOOST_TEST(eventually([&] { return b.metrics().in_flight == 0; }));
  BOOST_TEST(b.metrics().dead_lettered == 1u);
  BOOST_TEST(b.metrics().retried == 2u);
}

template <class Target>
void a_dropped_stream_ends_its_subscription_and_never_holds_publishers_back() {
  auto cfg = Target::make_config();
  cfg.stream_capacity = 10;
  bus b(cfg);
  std::atomic<int> handled{0};
  auto forgotten = run(b.get_executor(), [&]() -> asio::awaitable<corobus::stream> {
    co_await b.async_subscribe("audit", [&](const message&) -> asio::awaitable<void> {
      ++handled;
      co_return;
    });
    auto s = co_await b.async_stream("audit");
    for (int i = 0; i < 5; ++i) co_await b.async_publish("audit", "queued");
    co_return s;
  });
  // The handler took its 5; the stream holds the other 5, unread.
  BOOST_TEST_REQUIRE(eventually([&] { return handled == 5 && b.metrics().in_flight == 5; }, 30s));
  forgotten = corobus::stream();  // the last handle goes: the 5 it held are abandoned, and it receives no more
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 100; ++i) co_await b.async_publish("audit", "after");  // in-process: would block at 10
  });
  BOOST_TEST(eventually([&] { return handled == 105; }, 30s));
  BOOST_TEST(b.metrics().abandoned == 5u);
  BOOST_TEST(eventually([&] { return b.metrics().in_flight == 0; }));
}

// One group holding a stream and an envelope handler: a keyless message the full handler
// passes on goes round robin to the stream at its second try, and must reach it whole. The
// copy a stream needs is made at the hand-over to the member that takes it (handoff.hpp):
// made for the first member tried, a librdkafka record would reach the stream with an empty
// payload and hold the client, so that close() would hang.
template <class Target>
void a_message_a_full_handler_passes_on_reaches_a_stream_of_its_group_whole() {
  constexpr int total = 40;
  auto cfg = Target::make_config();
  cfg.kafka.partitions = 1;
  bus b(cfg);
  std::set<std::string> published;
  for (int i = 0; i < total; ++i) published.insert(versioned("agg-" + std::to_string(i), 1).encode());
  std::atomic<bool> released{false};
  std::atomic<int> by_handler{0};
  std::mutex mutex;
  std::vector<std::string> by_stream;  // under mutex
  const auto streamed = [&] {
    std::lock_guard lock(mutex);
    return static_cast<int>(by_stream.size());
  };
  subscribe_options one_lane("mixed");
  one_lane.lanes = 1;
  one_lane.lane_capacity = 1;
  // The stream first: the group orders as its first member does, by the records' own keys,
  // so keyless messages go round robin.
  auto s = b.async_stream("mixed", subscribe_options("mixed"), asio::use_future).get();
  auto reader = asio::co_spawn(
      b.get_executor(),
      [&]() -> asio::awaitable<void> {
        while (auto d = co_await s.async_next()) {
          {
            std::lock_guard lock(mutex);
            by_stream.push_back(d->message().payload);
          }
          co_await d->async_ack();
        }
      },
      asio::use_future);
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes(
        "mixed",
        [&](const envelope&) -> asio::awaitable<void> {
          co_await eventually_async([&] { return released.load(); }, 60s);
          ++by_handler;
        },
        one_lane);
  });
  // The in-process backend's publisher waits for the member it chose, so the publishes run
  // on their own while the handler is held.
  auto publishing = asio::co_spawn(
      b.get_executor(),
      [&]() -> asio::awaitable<void> {
        for (const auto& payload : published) co_await b.async_publish("mixed", payload);  // no key
      },
      asio::use_future);
  if constexpr (Target::fetches)  // round robin alone gives the stream half; more came from the full handler
    BOOST_TEST_REQUIRE(eventually([&] { return streamed() > total / 2; }, 30s));
  else
    BOOST_TEST_REQUIRE(eventually([&] { return streamed() > 0; }, 30s));
  released = true;
  publishing.get();
  BOOST_TEST_REQUIRE(eventually([&] { return streamed() + by_handler.load() == total; }, 30s));
  b.close();
  reader.get();
  std::set<std::string> seen;
  for (const auto& payload : by_stream) {
    BOOST_TEST(published.contains(payload));  // whole, not empty
    BOOST_TEST(seen.insert(payload).second);
  }
  BOOST_TEST(by_handler.load() >= 1);
}

template <class Target>
void a_stream_ends_when_the_bus_closes() {
  bus b(Target::make_config());
  std::promise<void> streaming;
  auto ended = asio::co_spawn(
      b.get_executor(),
      [&]() -> asio::awaitable<bool> {
        auto s = co_await b.async_stream("audit");
        streaming.set_value();
        auto d = co_await s.async_next();
        co_return !d.has_value();
      },
      asio::use_future);
  streaming.get_future().wait();
  BOOST_TEST((ended.wait_for(20ms) == std::future_status::timeout));
  std::thread closer([&] { b.close(); });
  const bool ready = ended.wait_for(10s) == std::future_status::ready;
  closer.join();
  BOOST_TEST_REQUIRE(ready);
  BOOST_TEST(ended.get());
}

template <class Target>
void close_gives_a_stream_reader_the_grace_period_to_take_and_ack_what_is_queued() {
  bus b(Target::make_config());  // 2 s grace
  std::atomic<int> acked{0};
  std::promise<void> reading;
  auto reader = asio::co_spawn(
      b.get_executor(),
      [&]() -> asio::awaitable<void> {
        auto s = co_await b.async_stream("audit");
        for (int i = 0; i < 20; ++i) co_await b.async_publish("audit", std::to_string(i), publish_options("one key"));
        reading.set_value();
        while (auto d = co_await s.async_next()) {
          co_await sleep_for(2ms);  // a slow reader: close begins while it still works
          co_await d->async_ack();
          ++acked;
        }
      },
      asio::use_future);
  reading.get_future().wait();
  BOOST_TEST_REQUIRE(handed_over_eventually(b, 20));  // all 20 are the stream's
  b.close();
  BOOST_TEST(acked == 20);
  BOOST_TEST(b.metrics().delivered == 20u);
  BOOST_TEST(b.metrics().abandoned == 0u);
  BOOST_TEST((reader.wait_for(0s) == std::future_status::ready));  // its loop saw the end
}

// ---- unsubscribe and close

template <class Target>
void unsubscribe_stops_new_messages_and_finishes_what_was_accepted() {
  bus b(Target::make_config());
  std::atomic<bool> open{false};
  std::atomic<int> first_v1{0}, first_v2{0}, second_v1{0}, second_v2{0};
  auto count = [](std::atomic<int>& v1, std::atomic<int>& v2, const envelope& e) {
    ++(e.event_version == 1 ? v1 : v2);
  };
  std::size_t tasks_with_both = 0;
  auto sub = run(b.get_executor(), [&]() -> asio::awaitable<subscription> {
    co_await b.async_subscribe_envelopes(
        "orders",
        [&](const envelope& e) -> asio::awaitable<void> {
          count(second_v1, second_v2, e);
          co_return;
        },
        subscribe_options("shared"));
    auto s = co_await b.async_subscribe_envelopes(
        "orders",
        [&](const envelope& e) -> asio::awaitable<void> {
          co_await eventually_async([&] { return open.load(); });  // holds its share until unsubscribed
          count(first_v1, first_v2, e);
        },
        subscribe_options("shared"));
    tasks_with_both = b.metrics().live_tasks;
    for (int i = 0; i < 40; ++i)
      co_await b.async_publish_envelope("orders", envelope::make("k" + std::to_string(i), "T", 1, "{}"));
    co_return s;
  });
  // Every version-1 message was handed over: the second member handled its share, the first
  // holds the rest.
  BOOST_TEST_REQUIRE(
      eventually([&] { return second_v1 + b.metrics().in_flight == 40 && b.metrics().in_flight > 0; }, 30s));
  BOOST_TEST(sub.group() == "shared");
  sub.unsubscribe();
  sub.unsubscribe();  // idempotent
  open = true;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 40; ++i)
      co_await b.async_publish_envelope("orders", envelope::make("k" + std::to_string(i), "T", 2, "{}"));
  });
  // Every version-1 message handled once (the first member finished its share after leaving);
  // every version-2 message, published after it left, went to the second member.
  BOOST_TEST(eventually([&] { return first_v1 + second_v1 == 40 && second_v2 == 40; }, 30s));
  BOOST_TEST(first_v1 > 0);
  BOOST_TEST(first_v2 == 0);
  const auto lanes = b.get_config().lanes;
  BOOST_TEST(eventually([&] { return b.metrics().live_tasks == tasks_with_both - lanes; }));  // its lanes ended
  BOOST_TEST(b.metrics().abandoned == 0u);
}

template <class Target>
void close_lets_accepted_work_finish_within_the_grace_period() {
  auto cfg = Target::make_config();
  // Room for all 300 in the one lane: on Kafka a record waiting for room is not the
  // subscription's yet (close leaves it uncommitted, for the next run).
  cfg.lane_capacity = 512;
  bus b(cfg);
  std::atomic<int> handled{0};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("work", [&](const envelope&) -> asio::awaitable<void> {
      co_await sleep_for(100us);
      ++handled;
    });
    for (int i = 1; i <= 300; ++i) co_await b.async_publish_envelope("work", versioned("one-key", i));
  });
  BOOST_TEST_REQUIRE(handed_over_eventually(b, 300));
  b.close();
  BOOST_TEST(handled == 300);
  BOOST_TEST(b.metrics().abandoned == 0u);
  BOOST_TEST(b.metrics().delivered == 300u);
}

template <class Target>
void close_cancels_handlers_that_never_finish_after_the_grace_period() {
  auto cfg = Target::make_config();
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
    for (int i = 0; i < 10; ++i) co_await b.async_publish_envelope("stuck", versioned("agg-" + std::to_string(i), 1));
    // and a second message behind each of the first five: queued, never started
    for (int i = 0; i < 5; ++i) co_await b.async_publish_envelope("stuck", versioned("agg-" + std::to_string(i), 2));
  });
  BOOST_TEST_REQUIRE(eventually([&] { return started == 10 && handed_over(b.metrics()) == 15; }, 30s));

  const auto begin = std::chrono::steady_clock::now();
  b.close();
  const auto took = std::chrono::steady_clock::now() - begin;
  BOOST_TEST((took >= 300ms));
  BOOST_TEST((took < 300ms + Target::close_overhead));
  BOOST_TEST(saw_cancellation == 10);
  const auto m = b.metrics();
  BOOST_TEST(m.live_tasks == 0u);
  BOOST_TEST(m.abandoned == 15u);     // 10 cancelled in their handlers, 5 never started
  BOOST_TEST(m.dead_lettered == 0u);  // cancellation is not a failure
  BOOST_TEST(m.in_flight == 0);
}

template <class Target>
void concurrent_close_callers_all_wait_for_the_same_end() {
  const auto threads_before = thread_count();
  auto cfg = Target::make_config();
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

template <class Target>
void close_from_one_of_the_bus_threads_is_refused() {
  bus b(Target::make_config());
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

template <class Target>
void destroying_an_open_bus_closes_it() {
  const auto threads_before = thread_count();
  std::atomic<int> got{0};
  {
    bus b(Target::make_config());
    run(b.get_executor(), [&]() -> asio::awaitable<void> {
      co_await b.async_subscribe("t", [&](const message&) -> asio::awaitable<void> {
        ++got;
        co_return;
      });
      for (int i = 0; i < 50; ++i) co_await b.async_publish("t", "x");
    });
    BOOST_TEST_REQUIRE(handed_over_eventually(b, 50));
  }
  BOOST_TEST(got == 50);  // handed over before the destructor: handled
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
}

// ---- bad input and a closed bus

template <class Target>
void publish_subscribe_and_stream_after_close_fail_with_closed() {
  bus b(Target::make_config());
  auto kept = run(b.get_executor(), [&] { return b.async_stream("orders"); });
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
  BOOST_TEST((code_of([&] { return b.async_publish_envelope("orders", versioned("a", 1)); }) == errc::closed));
  BOOST_TEST((code_of([&] { return b.async_publish_envelopes("orders", {versioned("a", 1)}); }) == errc::closed));
  BOOST_TEST((code_of([&]() -> asio::awaitable<void> { co_await b.async_subscribe("orders", nop); }) == errc::closed));
  BOOST_TEST((code_of([&]() -> asio::awaitable<void> { co_await b.async_stream("orders"); }) == errc::closed));
  BOOST_TEST((code_of([&]() -> asio::awaitable<void> { BOOST_TEST(!(co_await kept.async_next())); }) ==
              boost::system::error_code{}));  // a stream just ends
}

template <class Target>
void an_invalid_envelope_is_rejected_at_publish_and_nothing_is_sent() {
  bus b(Target::make_config());
  std::atomic<int> calls{0};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe("orders", [&](const message&) -> asio::awaitable<void> {
      ++calls;
      co_return;
    });
  });
  const auto ex = b.get_executor();
  auto e = envelope::make("bad id with spaces", "T", 1, "{}");
  BOOST_TEST((error_of(ex, [&] { return b.async_publish_envelope("orders", e); }) == errc::invalid_envelope));
  e = envelope::make("ok", "T", 0, "{}");
  BOOST_TEST((error_of(ex, [&] { return b.async_publish_envelope("orders", e); }) == errc::invalid_envelope));
  e = envelope::make("ok", "T", 1, "");
  BOOST_TEST((error_of(ex, [&] { return b.async_publish_envelope("orders", e); }) == errc::invalid_envelope));
  // In a batch, one invalid envelope stops them all.
  std::vector<envelope> batch{envelope::make("ok", "T", 1, "{}"), e};
  BOOST_TEST((error_of(ex, [&] { return b.async_publish_envelopes("orders", batch); }) == errc::invalid_envelope));
  BOOST_TEST(b.metrics().published == 0u);
  b.close();
  BOOST_TEST(calls == 0);
}

template <class Target>
void invalid_topic_and_group_names_are_rejected() {
  bus b(Target::make_config());
  const auto ex = b.get_executor();
  auto nop = [](const message&) -> asio::awaitable<void> { co_return; };
  BOOST_TEST((error_of(ex, [&] { return b.async_publish("bad topic", "x"); }) == errc::invalid_topic));
  BOOST_TEST((error_of(ex, [&] { return b.async_publish("", "x"); }) == errc::invalid_topic));
  BOOST_TEST(
      (error_of(ex, [&]() -> asio::awaitable<void> { co_await b.async_subscribe("a*", nop); }) == errc::invalid_topic));
  BOOST_TEST(
      (error_of(ex, [&]() -> asio::awaitable<void> { co_await b.async_stream("a..b"); }) == errc::invalid_topic));
  BOOST_TEST((error_of(ex, [&]() -> asio::awaitable<void> {
                co_await b.async_subscribe("ok", nop, subscribe_options("no spaces"));
              }) == errc::invalid_argument));
  BOOST_TEST((error_of(ex, [&]() -> asio::awaitable<void> { co_await b.async_subscribe("ok", message_handler{}); }) ==
              errc::invalid_argument));
  subscribe_options no_concurrency;
  no_concurrency.concurrency = 0;
  BOOST_TEST((error_of(ex, [&]() -> asio::awaitable<void> { co_await b.async_subscribe("ok", nop, no_concurrency); }) ==
              errc::invalid_config));
  BOOST_TEST(b.metrics().published == 0u);
}

// Topics of up to 249 characters in the mixes that grow most on a broker ('_' and '-' escape
// to two bytes on JetStream; a 249-character topic's "<topic>.dlq" is over Kafka's limit),
// and pairs that differ only in their last characters: each works with the default group and
// a named one, reaches only its own subscribers, and dead-letters to its own topic.
template <class Target>
void the_longest_topic_names_work_and_none_collide() {
  const auto filled = [](std::string_view fill, std::string_view end) {
    std::string t;
    while (t.size() + end.size() < max_topic_length) t += fill;
    t.resize(max_topic_length - end.size());
    return t + std::string(end);
  };
  const std::vector<std::string> topics{filled("_", "a"),
                                        filled("_", "b"),
                                        filled("-", "a"),
                                        filled("_-", "a"),
                                        filled("a.", "a"),
                                        filled("a.", "b"),
                                        std::string(max_topic_length, 'x')};
  bus b(Target::make_config());
  std::map<std::string, inbox<envelope>> got;  // by topic
  std::map<std::string, inbox<message>> dead;  // by topic
  for (const auto& t : topics) (void)got[t], (void)dead[t];
  run(
      b.get_executor(),
      [&]() -> asio::awaitable<void> {
        for (const auto& t : topics) {
          co_await b.async_subscribe_envelopes(t, got[t].collector());
          co_await b.async_subscribe_envelopes(t, got[t].collector(), subscribe_options("group-" + t.substr(200)));
          co_await b.async_subscribe(dead_letter_topic(t), dead[t].collector());
        }
        for (const auto& t : topics) {
          co_await b.async_publish_envelope(t, versioned(t.substr(0, 200), 1));
          co_await b.async_publish(t, "not an envelope");
        }
      },
      std::chrono::seconds(120));
  for (const auto& t : topics) {
    BOOST_TEST_REQUIRE(eventually([&] { return got[t].size() == 2 && dead[t].size() == 2; }, 60s), t);
    for (const auto& e : got[t].copy()) BOOST_TEST(e.aggregate_id == t.substr(0, 200));
    for (const auto& m : dead[t].copy()) BOOST_TEST(*find_header(m.headers, dead_letter_headers::origin_topic) == t);
    BOOST_TEST(dead_letter_topic(t).size() <= max_topic_length);
  }
  b.close();
  BOOST_TEST(b.metrics().delivered == 4 * topics.size());  // two envelopes and two dead letters each
}

// ---- accounting and leaks

// Every accepted publish ends in exactly one counter (metrics.hpp): handled, dead-lettered
// (retried out, or undecodable), unrouted, or abandoned at close.
template <class Target>
void every_publish_is_accounted_for_once_the_bus_closed() {
  auto cfg = Target::make_config();
  cfg.close_grace = std::chrono::milliseconds(50);
  bus b(cfg);
  std::atomic<bool> release{false};
  constexpr std::uint64_t nowhere = Target::keeps_messages ? 0 : 7;  // a topic nobody reads
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("orders", [&](const envelope& e) -> asio::awaitable<void> {
      if (e.event_version % 5 == 0) throw std::runtime_error("rejected");
      if (e.aggregate_id == "slow")  // still running at close: cancelled, so abandoned
        while (!release) co_await sleep_for(std::chrono::milliseconds(1));
      co_return;
    });
    for (int v = 1; v <= 50; ++v) co_await b.async_publish_envelope("orders", versioned("agg", v));
    co_await b.async_publish("orders", "not an envelope", publish_options("agg"));
    for (std::uint64_t i = 0; i < nowhere; ++i) co_await b.async_publish("nowhere", "nobody listens");
    for (int v = 1; v <= 3; ++v) co_await b.async_publish_envelope("orders", versioned("slow", v));
  });
  BOOST_TEST_REQUIRE(eventually(
      [&] {
        const auto m = b.metrics();
        return m.delivered + m.dead_lettered == 51u && handed_over(m) == 54u;
      },
      30s));
  b.close();
  release = true;
  const auto m = b.metrics();
  BOOST_TEST(m.published == 54u + nowhere);
  BOOST_TEST(m.dead_lettered == 11u);  // 10 rejected after their attempts, 1 undecodable
  BOOST_TEST(m.unrouted == nowhere);   // dead letters nobody reads are not counted here
  BOOST_TEST(m.abandoned == 3u);
  BOOST_TEST(m.in_flight == 0);
  BOOST_TEST(m.published == m.delivered + m.dead_lettered + m.held + m.abandoned + m.rebalanced + m.lost + m.unrouted +
                                static_cast<std::uint64_t>(m.in_flight));
}

template <class Target>
void threads_and_descriptors_return_to_their_values_before_the_bus() {
  const auto threads_before = thread_count();
  const auto fds_before = descriptor_count();
  {
    auto cfg = Target::make_config();
    cfg.io_threads = 4;
    bus b(cfg);
    if constexpr (Target::own_threads_only)
      BOOST_TEST(thread_count() == threads_before + 4);
    else
      BOOST_TEST(thread_count() > threads_before + 4);
    std::atomic<int> got{0};
    run(b.get_executor(), [&]() -> asio::awaitable<void> {
      co_await b.async_subscribe_envelopes("t", [&](const envelope&) -> asio::awaitable<void> {
        ++got;
        co_await sleep_for(10us);
      });
      auto s = co_await b.async_stream("t");
      for (int i = 0; i < 100; ++i) co_await b.async_publish_envelope("t", versioned("a" + std::to_string(i), 1));
      auto d = co_await s.async_next();
      co_await d->async_ack();
    });
    BOOST_TEST(eventually([&] { return got == 100; }, 30s));
    b.close();
    BOOST_TEST(b.metrics().live_tasks == 0u);
    BOOST_TEST(settled_thread_count(threads_before) == threads_before);
    BOOST_TEST(descriptor_count() == fds_before);
  }
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
  BOOST_TEST(descriptor_count() == fds_before);
}

template <class Target>
void fifty_open_close_cycles_leave_no_thread_descriptor_or_task_behind() {
  const auto threads_before = thread_count();
  const auto fds_before = descriptor_count();
  for (int cycle = 0; cycle < 50; ++cycle) {
    auto cfg = Target::make_config();
    cfg.io_threads = 1;
    cfg.kafka.embedded_brokers = 1;  // (the in-process backend has none)
    std::atomic<int> handled{0};
    {
      bus b(cfg);
      run(b.get_executor(), [&]() -> asio::awaitable<void> {
        co_await b.async_subscribe_envelopes("cycles", [&](const envelope&) -> asio::awaitable<void> {
          ++handled;
          co_return;
        });
        for (int v = 1; v <= 10; ++v) co_await b.async_publish_envelope("cycles", versioned("agg-1", v));
      });
      b.close();  // on Kafka, while the group still joins
      BOOST_TEST_REQUIRE(b.metrics().live_tasks == 0u);
      BOOST_TEST_REQUIRE(b.metrics().in_flight == 0);
      if constexpr (!Target::keeps_messages) BOOST_TEST_REQUIRE(handled == 10);  // handed over, so handled
    }
    BOOST_TEST_REQUIRE(settled_thread_count(threads_before) == threads_before);
    BOOST_TEST_REQUIRE(descriptor_count() == fds_before);
  }
}

// ---- completion tokens

template <class Target>
void every_operation_completes_through_futures_callbacks_deferred_and_as_tuple() {
  bus b(Target::make_config());
  inbox<envelope> got;
  // use_future, from a thread that is not the bus's.
  auto sub = b.async_subscribe_envelopes("tokens", got.collector(), asio::use_future).get();
  BOOST_TEST(sub.topic() == "tokens");
  auto s = b.async_stream("tokens.raw", subscribe_options("readers"), asio::use_future).get();
  const auto first = b.async_publish_envelope("tokens", versioned("agg", 1), asio::use_future).get();
  BOOST_TEST(first.topic == "tokens");
  std::vector<envelope> batch{versioned("agg", 2), versioned("agg", 3)};
  BOOST_TEST(b.async_publish_envelopes("tokens", batch, asio::use_future).get().size() == 2u);
  // A callback, with the error code and the result.
  std::promise<std::pair<boost::system::error_code, publish_result>> called;
  b.async_publish("tokens.raw", "by callback", publish_options("k"),
                  [&](boost::system::error_code ec, publish_result r) {
                    called.set_value({ec, r});
                  });
  const auto [callback_ec, callback_result] = called.get_future().get();
  BOOST_TEST(!callback_ec);
  BOOST_TEST(callback_result.topic == "tokens.raw");
  // deferred: nothing happens until the operation is launched.
  auto later = b.async_publish_envelope("tokens", versioned("agg", 4), asio::deferred);
  BOOST_TEST(b.metrics().published == 4u);
  std::move(later)(asio::use_future).get();
  BOOST_TEST(b.metrics().published == 5u);
  // A stream and its deliveries likewise.
  auto d = s.async_next(asio::use_future).get();
  BOOST_TEST_REQUIRE(d.has_value());
  BOOST_TEST(d->message().payload == "by callback");
  d->async_ack(asio::use_future).get();
  // An error as a code: a failure is a value, not an exception.
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    auto [ec, r] = co_await b.async_publish("bad topic", "x", asio::as_tuple(asio::use_awaitable));
    BOOST_TEST((ec == errc::invalid_topic));
    auto [nack_ec] = co_await d->async_nack("already acked", asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!nack_ec);
  });
  BOOST_TEST_REQUIRE(eventually([&] { return got.size() == 4; }, 30s));
  // An operation started with a future is a task of the bus: close ends it and waits for it.
  auto pending = s.async_next(asio::use_future);
  BOOST_TEST((pending.wait_for(20ms) == std::future_status::timeout));
  b.close();
  BOOST_TEST((pending.wait_for(0s) == std::future_status::ready));
  BOOST_TEST(!pending.get().has_value());  // the stream ended
  BOOST_TEST(b.metrics().live_tasks == 0u);
  // After close, every token hears errc::closed.
  auto refused = b.async_publish("tokens", "late", asio::use_future);
  BOOST_CHECK_EXCEPTION(refused.get(), boost::system::system_error,
                        [](const auto& e) { return e.code() == errc::closed; });
  boost::system::error_code late_ec;
  b.async_stream("tokens", [&](boost::system::error_code ec, corobus::stream) { late_ec = ec; });
  BOOST_TEST((late_ec == errc::closed));  // at once: a plain callback has no executor of its own
}

template <class Target>
void a_cancelled_next_takes_nothing_and_the_message_goes_to_the_next_call() {
  using namespace asio::experimental::awaitable_operators;
  bus b(Target::make_config());
  auto s = b.async_stream("cancel", asio::use_future).get();
  // Through the token's cancellation slot.
  asio::cancellation_signal signal;
  auto waiting = s.async_next(asio::bind_cancellation_slot(signal.slot(), asio::use_future));
  BOOST_TEST((waiting.wait_for(20ms) == std::future_status::timeout));
  signal.emit(asio::cancellation_type::terminal);
  BOOST_CHECK_EXCEPTION(waiting.get(), boost::system::system_error,
                        [](const auto& e) { return e.code() == asio::error::operation_aborted; });
  // Through the awaiting coroutine's own cancellation (the default token).
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    asio::steady_timer soon(co_await asio::this_coro::executor, 20ms);
    auto first = co_await (s.async_next() || soon.async_wait(asio::use_awaitable));
    BOOST_TEST(first.index() == 1u);  // the timer won; the wait for a message was cancelled
    co_await b.async_publish("cancel", "one", publish_options("k"));
    co_await b.async_publish("cancel", "two", publish_options("k"));
  });
  // Neither cancelled wait took a message.
  for (const char* expected : {"one", "two"}) {
    auto d = s.async_next(asio::use_future).get();
    BOOST_TEST_REQUIRE(d.has_value());
    BOOST_TEST(d->message().payload == expected);
    d->async_ack(asio::use_future).get();
  }
  BOOST_TEST(b.metrics().abandoned == 0u);
  b.close();
  BOOST_TEST(b.metrics().in_flight == 0);
}

}  // namespace corobus::conformance

// ---- the backends

namespace {

struct memory_target {
  struct each_case {};
  static config make_config() {
    config c;
    c.io_threads = 2;
    c.retry = retry_policy{3, std::chrono::milliseconds(1), std::chrono::milliseconds(4)};
    c.close_grace = std::chrono::milliseconds(2000);
    return c;
  }
  static constexpr bool keeps_messages = false;
  static constexpr bool fetches = false;  // publishers hand messages to subscribers themselves
  static constexpr bool own_threads_only = true;
  static constexpr auto close_overhead = std::chrono::milliseconds(700);
};

// The embedded cluster, as a newcomer gets it.
struct kafka_target {
  static config make_config() {
    auto c = memory_target::make_config();
    c.backend = backend_kind::kafka;
    c.kafka.bootstrap = "embedded";
    c.kafka.commit_interval = std::chrono::milliseconds(100);
    return c;
  }
  static constexpr bool keeps_messages = true;
  static constexpr bool fetches = true;
  static constexpr bool own_threads_only = false;                          // librdkafka's
  static constexpr auto close_overhead = std::chrono::milliseconds(3000);  // leaving the group, flushing
  using each_case = memory_target::each_case;
};

// A real Apache Kafka broker, the one the test run shares, cleared before each case.
struct kafka_broker_target : kafka_target {
  static config make_config() {
    auto c = kafka_target::make_config();
    c.kafka.bootstrap = corobus::support::kafka_broker::shared_bootstrap();
    return c;
  }
  struct each_case {
    each_case() { corobus::test::clear_broker(corobus::support::kafka_broker::shared_bootstrap()); }
  };
};

// The embedded nats-server, as a newcomer gets it.
struct nats_target {
  static config make_config() {
    auto c = memory_target::make_config();
    c.backend = backend_kind::nats;
    c.nats.url = "embedded";
    return c;
  }
  static constexpr bool keeps_messages = true;  // a stream keeps them
  static constexpr bool fetches = true;
  static constexpr bool own_threads_only = false;                          // cnats's
  static constexpr auto close_overhead = std::chrono::milliseconds(2000);  // flushing, the server's exit
  using each_case = memory_target::each_case;
};

}  // namespace

COROBUS_CONFORMANCE_SUITE(conformance_memory, memory_target, "memory")
COROBUS_CONFORMANCE_SUITE(conformance_kafka, kafka_target, "kafka")
COROBUS_CONFORMANCE_SUITE(conformance_kafka_broker, kafka_broker_target, "kafka_broker")
COROBUS_CONFORMANCE_SUITE(conformance_nats, nats_target, "nats")

// The ordering case at load, in-process.
BOOST_AUTO_TEST_SUITE(ordering, *boost::unit_test::label("memory") * boost::unit_test::label("stress"))
BOOST_AUTO_TEST_CASE(one_hundred_thousand_envelopes_over_a_thousand_aggregates_keep_their_order) {
  corobus::conformance::keyed_order<memory_target>(1000, 100);
}
BOOST_AUTO_TEST_SUITE_END()

// The same on the embedded nats-server: every envelope stored, pulled and acknowledged.
BOOST_AUTO_TEST_SUITE(ordering_nats, *boost::unit_test::label("nats") * boost::unit_test::label("stress"))
BOOST_AUTO_TEST_CASE(one_hundred_thousand_envelopes_over_a_thousand_aggregates_keep_their_order) {
  corobus::conformance::keyed_order<nats_target>(1000, 100);
}
BOOST_AUTO_TEST_SUITE_END()
