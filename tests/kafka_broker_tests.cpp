// The bus on a real Apache Kafka broker (KRaft, from Maven Central:
// support/corobus/support/kafka_broker.hpp), beside the suites that run on both
// (conformance_kafka_broker, kafka_bus_broker, kafka_awaitables_broker): what
// librdkafka 2.0.2 makes of Kafka 4, the broker's own record size limit, and SASL.
#include <boost/test/unit_test.hpp>

#include <corobus/support/kafka_broker.hpp>
#include "opening_error.hpp"
#include "raw_kafka.hpp"
#include "support.hpp"

#include <corobus/corobus.hpp>

#include <librdkafka/rdkafka.h>

#include <array>
#include <memory>
#include <mutex>
#include <set>
#include <string>

using namespace corobus;
using namespace corobus::test;
using corobus::support::kafka_broker;

namespace {

config real_kafka_config(const std::string& bootstrap) {
  config cfg;
  cfg.backend = backend_kind::kafka;
  cfg.io_threads = 2;
  cfg.kafka.bootstrap = bootstrap;
  cfg.kafka.partitions = 3;
  cfg.kafka.replication = 1;
  cfg.kafka.commit_interval = std::chrono::milliseconds(100);
  cfg.retry = retry_policy{3, std::chrono::milliseconds(1), std::chrono::milliseconds(4)};
  return cfg;
}

// What librdkafka's "feature" debug context says it turned off for the brokers it met.
struct feature_log {
  std::mutex mutex;
  std::set<std::string> disabled;
  static void on_log(const rd_kafka_t* rk, int, const char*, const char* line) {
    auto* self = static_cast<feature_log*>(rd_kafka_opaque(rk));
    const std::string_view text(line);
    constexpr std::string_view disabling = "Disabling feature ";
    if (const auto at = text.find(disabling); at != std::string_view::npos) {
      auto name = text.substr(at + disabling.size());
      name = name.substr(0, name.find_first_of(" \t"));
      std::lock_guard lock(self->mutex);
      self->disabled.emplace(name);
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(kafka_broker_basics, *boost::unit_test::label("kafka_broker"))

BOOST_AUTO_TEST_CASE(librdkafka_turns_off_no_feature_of_kafka_4_but_msgver1_and_throttletime) {
  const auto bootstrap = kafka_broker::shared_bootstrap();
  feature_log features;
  std::array<char, 512> error{};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error.data(), error.size());
  rd_kafka_conf_set(conf, "debug", "feature", error.data(), error.size());
  rd_kafka_conf_set_log_cb(conf, &feature_log::on_log);
  rd_kafka_conf_set_opaque(conf, &features);
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> producer(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error.data(), error.size()), &rd_kafka_destroy);
  BOOST_TEST_REQUIRE(producer != nullptr, error.data());
  const rd_kafka_metadata_t* metadata = nullptr;  // a request answered: the versions are known
  BOOST_TEST_REQUIRE(rd_kafka_metadata(producer.get(), 1, nullptr, &metadata, 30'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_metadata_destroy(metadata);
  producer.reset();
  // Kafka 4 (KIP-896) dropped the old versions these two rest on; MsgVer2 supersedes both.
  BOOST_TEST((features.disabled == std::set<std::string>{"MsgVer1", "ThrottleTime"}));
}

BOOST_AUTO_TEST_CASE(a_record_at_the_brokers_size_limit_from_another_producer_is_dead_lettered_cut_to_fit) {
  const auto bootstrap = kafka_broker::shared_bootstrap();
  clear_broker(bootstrap);
  auto cfg = real_kafka_config(bootstrap);
  cfg.kafka.partitions = 1;
  bus b(cfg);
  run(b.get_executor(), [&]() -> asio::awaitable<void> {  // makes the topic and its .dlq
    co_await b.async_subscribe_envelopes(
        "big", [](const envelope&) -> asio::awaitable<void> { co_return; }, subscribe_options("big-group"));
  });
  // Over librdkafka's default message.max.bytes (1,000,000), which the bus's producer keeps,
  // and within the broker's (1,048,588 a batch): a producer that raised its own limit wrote it.
  constexpr std::size_t size = 1'048'000;
  produce_raw(bootstrap, "big", {{std::string("big-key"), std::string(size, 'x')}}, {{"message.max.bytes", "2000000"}});
  BOOST_TEST_REQUIRE(eventually([&] { return b.metrics().dead_lettered == 1u; }, 60s));
  BOOST_TEST(b.metrics().held == 0u);
  b.close();
  const auto letters = consume_raw(bootstrap, "big.dlq", 1, 1, 30s);
  BOOST_TEST_REQUIRE(letters.size() == 1u);
  const auto& letter = letters.front();
  BOOST_TEST(*find_header(letter.headers, dead_letter_headers::truncated) == "value");
  BOOST_TEST(*find_header(letter.headers, dead_letter_headers::original_size) == std::to_string(size));
  BOOST_TEST(letter.key == "big-key");
  BOOST_TEST(letter.payload.size() < 1'000'000u);
  BOOST_TEST(letter.payload.size() > 999'000u);  // what fits, not much less
  BOOST_TEST(letter.payload == std::string(letter.payload.size(), 'x'));
}

BOOST_AUTO_TEST_CASE(sasl_credentials_in_kafka_properties_open_a_bus_and_wrong_ones_fail_without_showing_the_secret) {
  kafka_broker::options with_sasl;
  with_sasl.plain_users = {{"alice", "alice-secret"}};
  kafka_broker broker(with_sasl);
  const auto sasl = [&](const std::string& password) {
    auto cfg = real_kafka_config(broker.sasl_bootstrap());
    cfg.kafka.connect_timeout = std::chrono::milliseconds(5000);
    cfg.kafka.properties = {{"security.protocol", "SASL_PLAINTEXT"},
                            {"sasl.mechanisms", "PLAIN"},
                            {"sasl.username", "alice"},
                            {"sasl.password", password}};
    return cfg;
  };
  {
    bus b(sasl("alice-secret"));
    inbox<envelope> got;
    run(b.get_executor(), [&]() -> asio::awaitable<void> {
      co_await b.async_subscribe_envelopes("secured", got.collector(), subscribe_options("secured-group"));
      co_await b.async_publish_envelope("secured", envelope::make("agg-1", "Placed", 1, "{}"));
    });
    BOOST_TEST(eventually([&] { return got.size() == 1; }, 60s));
    b.close();
  }
  const auto logged_before = logged_warnings_containing("not-the-secret");
  const auto start = std::chrono::steady_clock::now();
  const auto [code, what] = opening_error(sasl("not-the-secret"));
  BOOST_TEST((code == errc::broker_error), code.message());
  BOOST_TEST((std::chrono::steady_clock::now() - start < 10s));  // connect_timeout and the close
  BOOST_TEST(what.find("not-the-secret") == std::string::npos, what);
  BOOST_TEST(logged_warnings_containing("not-the-secret") == logged_before);
}

BOOST_AUTO_TEST_SUITE_END()
