// The librdkafka integration on its own, against the embedded (mock) cluster: the producer's
// awaitable produce, delivery reports, bad configuration, and what close leaves behind.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <corobus/awaitables/kafka/embedded_cluster.hpp>
#include <corobus/awaitables/kafka/error.hpp>
#include <corobus/awaitables/kafka/producer.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/io_pool.hpp>
#include <corobus/runtime/task_scope.hpp>

#include <map>
#include <set>
#include <vector>

using namespace corobus;
using namespace corobus::test;

namespace {

struct no_headers {
  std::vector<kafka::delivery_report> none;
};

struct header_pair {
  std::string name, value;
};

// A producer with its report loop running in `scope` on a strand of `pool`.
struct running_producer {
  running_producer(io_pool& pool, task_scope& scope, const kafka::properties& props)
      : strand(pool.make_strand()), client(strand, props) {
    scope.spawn(strand, client.run(), "kafka producer reports");
  }
  asio::strand<io_pool::executor_type> strand;
  kafka::producer client;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(kafka_awaitables)

BOOST_AUTO_TEST_CASE(the_embedded_cluster_starts_and_leaves_nothing_behind) {
  const auto threads_before = thread_count();
  const auto fds_before = descriptor_count();
  {
    kafka::embedded_cluster cluster(3);
    BOOST_TEST(cluster.brokers() == 3);
    BOOST_TEST(std::count(cluster.bootstrap_servers().begin(), cluster.bootstrap_servers().end(), ',') == 2);
    BOOST_TEST(cluster.bootstrap_servers().find("127.0.0.1:") == 0u);
    cluster.create_topic("t", 6);
    BOOST_TEST(thread_count() > threads_before);
  }
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
  BOOST_TEST(descriptor_count() == fds_before);
}

BOOST_AUTO_TEST_CASE(many_produces_in_flight_complete_on_their_delivery_reports) {
  kafka::embedded_cluster cluster(3);
  cluster.create_topic("orders", 6);
  io_pool pool(2);
  task_scope scope;
  {
    running_producer p(pool, scope, {{"bootstrap.servers", cluster.bootstrap_servers()}});
    constexpr int count = 2000;
    std::vector<std::future<kafka::delivery_report>> reports;
    const std::vector<header_pair> headers{{"X-Event-ID", "e1"}, {"X-Trace-ID", "t1"}};
    for (int i = 0; i < count; ++i)
      reports.push_back(asio::co_spawn(
          pool.get_executor(),
          p.client.async_produce("orders", "key-" + std::to_string(i % 50), "value-" + std::to_string(i),
                                 kafka::make_headers(headers)),
          asio::use_future));
    std::map<int, std::set<std::int64_t>> offsets;
    for (auto& f : reports) {
      BOOST_REQUIRE((f.wait_for(30s) == std::future_status::ready));
      const auto r = f.get();
      BOOST_TEST(r.topic == "orders");
      BOOST_TEST_REQUIRE(r.partition >= 0);
      BOOST_TEST_REQUIRE(r.partition < 6);
      offsets[r.partition].insert(r.offset);
    }
    std::size_t total = 0;
    for (auto& [partition, seen] : offsets) {
      total += seen.size();
      BOOST_TEST(*seen.begin() == 0);  // every offset of the partition, once
      BOOST_TEST(*seen.rbegin() == static_cast<std::int64_t>(seen.size()) - 1);
    }
    BOOST_TEST(total == static_cast<std::size_t>(count));
    BOOST_TEST(p.client.flush(5000ms));
    scope.cancel();
    BOOST_TEST(scope.wait_idle_for(5s));
  }
}

BOOST_AUTO_TEST_CASE(the_same_key_goes_to_the_same_partition) {
  kafka::embedded_cluster cluster(1);
  cluster.create_topic("keyed", 6);
  io_pool pool(1);
  task_scope scope;
  running_producer p(pool, scope, {{"bootstrap.servers", cluster.bootstrap_servers()}});
  std::map<std::string, std::set<int>> partitions;
  run(pool.get_executor(), [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 200; ++i) {
      const auto key = "agg-" + std::to_string(i % 20);
      auto r = co_await p.client.async_produce("keyed", key, "v", kafka::make_headers(std::vector<header_pair>{}));
      partitions[key].insert(r.partition);
    }
  });
  for (auto& [key, seen] : partitions) BOOST_TEST(seen.size() == 1u, key);
  scope.cancel();
  BOOST_TEST(scope.wait_idle_for(5s));
}

BOOST_AUTO_TEST_CASE(retriable_produce_errors_are_retried_by_the_idempotent_producer) {
  kafka::embedded_cluster cluster(1);
  cluster.create_topic("flaky", 1);
  io_pool pool(1);
  task_scope scope;
  running_producer p(pool, scope, {{"bootstrap.servers", cluster.bootstrap_servers()}, {"retry.backoff.ms", "10"}});
  // Warm up (metadata, producer id), then make the next produce requests fail.
  run(pool.get_executor(), [&]() -> asio::awaitable<void> {
    co_await p.client.async_produce("flaky", "k", "first", kafka::make_headers(std::vector<header_pair>{}));
  });
  cluster.fail_requests(0 /* Produce */, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  std::vector<std::int64_t> offsets;
  run(pool.get_executor(), [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i) {
      auto r = co_await p.client.async_produce("flaky", "k", "v" + std::to_string(i),
                                               kafka::make_headers(std::vector<header_pair>{}));
      offsets.push_back(r.offset);
    }
  });
  BOOST_TEST((offsets == std::vector<std::int64_t>{1, 2, 3, 4, 5}));  // no gap, no duplicate
  scope.cancel();
  BOOST_TEST(scope.wait_idle_for(5s));
}

BOOST_AUTO_TEST_CASE(an_unreachable_broker_fails_the_produce_within_its_timeout) {
  io_pool pool(1);
  task_scope scope;
  running_producer p(pool, scope,
                     {{"bootstrap.servers", "127.0.0.1:1"}, {"message.timeout.ms", "1500"}, {"log_level", "0"}});
  const auto start = std::chrono::steady_clock::now();
  const auto code = run(pool.get_executor(), [&]() -> asio::awaitable<boost::system::error_code> {
    try {
      co_await p.client.async_produce("nowhere", "k", "v", kafka::make_headers(std::vector<header_pair>{}));
    } catch (const boost::system::system_error& e) {
      co_return e.code();
    }
    co_return boost::system::error_code{};
  });
  BOOST_TEST((code == kafka::make_error_code(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)), code.message());
  BOOST_TEST(code.category().name() == std::string("kafka"));
  BOOST_TEST((std::chrono::steady_clock::now() - start < 10s));
  scope.cancel();
  BOOST_TEST(scope.wait_idle_for(5s));
}

BOOST_AUTO_TEST_CASE(a_bad_property_is_an_invalid_config_error_that_names_it) {
  io_pool pool(1);
  try {
    kafka::producer p(pool.make_strand(), {{"no.such.property", "1"}});
    BOOST_FAIL("expected invalid_config");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == errc::invalid_config));
    BOOST_TEST(std::string(e.what()).find("no.such.property") != std::string::npos, e.what());
  }
  try {
    kafka::producer p(pool.make_strand(), {{"acks", "sometimes"}});
    BOOST_FAIL("expected invalid_config");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == errc::invalid_config));
  }
}

BOOST_AUTO_TEST_CASE(a_producer_and_its_cluster_leave_no_thread_or_descriptor_behind) {
  const auto threads_before = thread_count();
  const auto fds_before = descriptor_count();
  for (int cycle = 0; cycle < 5; ++cycle) {
    kafka::embedded_cluster cluster(1);
    cluster.create_topic("t", 1);
    io_pool pool(1);
    task_scope scope;
    {
      running_producer p(pool, scope, {{"bootstrap.servers", cluster.bootstrap_servers()}});
      run(pool.get_executor(), [&]() -> asio::awaitable<void> {
        co_await p.client.async_produce("t", "k", "v", kafka::make_headers(std::vector<header_pair>{}));
      });
      scope.cancel();
      BOOST_TEST(scope.wait_idle_for(5s));
    }
  }
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
  BOOST_TEST(descriptor_count() == fds_before);
}

BOOST_AUTO_TEST_SUITE_END()
