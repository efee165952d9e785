// The bus on the Kafka backend, against embedded clusters: delivery, keyed order, groups,
// rebalances, faults, dead letters, commits, and what close() leaves behind.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <corobus/awaitables/kafka/embedded_cluster.hpp>
#include <corobus/corobus.hpp>

#include <map>
#include <mutex>
#include <set>
#include <vector>

using namespace corobus;
using namespace corobus::test;

namespace {

// A Kafka bus config for `bootstrap` (a test-owned cluster, or "embedded").
config kafka_bus_config(const std::string& bootstrap, std::size_t io_threads = 2) {
  config cfg;
  cfg.backend = backend_kind::kafka;
  cfg.io_threads = io_threads;
  cfg.kafka.bootstrap = bootstrap;
  cfg.kafka.commit_interval = std::chrono::milliseconds(100);
  return cfg;
}

int aggregate_number(const envelope& e) { return std::stoi(e.aggregate_id.substr(4)); }

// A group's first join takes about 3 s on the embedded cluster, which keeps only about 5 MB
// per partition: a large volume published before the consumer runs may be trimmed before it
// is read. Tests publish this marker first and wait until a handler saw it.
envelope marker() { return envelope::make("marker", "Marker", 1, "{}"); }
bool is_marker(const envelope& e) { return e.aggregate_id == "marker"; }

asio::awaitable<void> until_consuming(bus& b, std::string topic, const std::atomic<bool>& marker_seen) {
  co_await b.publish_envelope(topic, marker());
  BOOST_TEST_REQUIRE(co_await eventually_async([&] { return marker_seen.load(); }, 30s));
}

// What one consumer saw of each aggregate, in order: versions, redeliveries included.
struct seen_versions {
  std::mutex mutex;
  std::map<int, std::vector<std::int64_t>> by_aggregate;
  std::size_t count = 0;

  void add(const envelope& e) {
    std::lock_guard lock(mutex);
    by_aggregate[aggregate_number(e)].push_back(e.event_version);
    ++count;
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return count;
  }
  // Order breaks: a version that skips ahead of the one before it. Going back is a
  // redelivery (a replay from the committed position), which then must run in order again.
  std::size_t gaps() {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& [agg, versions] : by_aggregate)
      for (std::size_t i = 1; i < versions.size(); ++i) n += versions[i] > versions[i - 1] + 1;
    return n;
  }
};

// Publishes versions 1..per_aggregate of `aggregates` aggregates, each aggregate's versions in
// order from its own coroutine, all aggregates at once (so many records are in flight).
asio::awaitable<void> publish_versions(bus& b, std::string topic, int aggregates, int per_aggregate) {
  auto ex = co_await asio::this_coro::executor;
  std::atomic<int> left{aggregates};
  for (int a = 0; a < aggregates; ++a)
    asio::co_spawn(ex, [&b, topic, a, per_aggregate]() -> asio::awaitable<void> {
      for (int v = 1; v <= per_aggregate; ++v)
        co_await b.publish_envelope(topic, envelope::make("agg-" + std::to_string(a), "Changed", v, R"({"v":1})"));
    }, [&left](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
      --left;
    });
  while (left != 0) co_await sleep_for(std::chrono::milliseconds(5));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kafka_bus)

BOOST_AUTO_TEST_CASE(one_hundred_thousand_envelopes_over_a_thousand_aggregates_keep_their_order) {
  constexpr int aggregates = 1000, per_aggregate = 100, total = aggregates * per_aggregate;
  auto cfg = kafka_bus_config("embedded");
  bus b(cfg);
  seen_versions seen;
  std::atomic<bool> consuming{false};
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.subscribe_envelopes("ordered", [&](const envelope& e) -> asio::awaitable<void> {
      if (is_marker(e))
        consuming = true;
      else
        seen.add(e);
      co_return;
    });
    co_await until_consuming(b, "ordered", consuming);
    co_await publish_versions(b, "ordered", aggregates, per_aggregate);
  }, std::chrono::seconds(300));
  BOOST_TEST(eventually([&] { return seen.size() >= total; }, 120s));
  b.close();
  BOOST_TEST(seen.size() == static_cast<std::size_t>(total));  // no redelivery without a fault
  BOOST_TEST(seen.gaps() == 0u);
  for (auto& [agg, versions] : seen.by_aggregate) BOOST_TEST_REQUIRE(versions.back() == per_aggregate);
  BOOST_TEST(b.metrics().delivered == static_cast<std::uint64_t>(total + 1));
  BOOST_TEST(b.metrics().published == static_cast<std::uint64_t>(total + 1));
  BOOST_TEST(b.metrics().live_tasks == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
