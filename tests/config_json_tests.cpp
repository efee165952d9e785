// config::from_json and from_file, without a bus: every field by name, durations with units,
// and errors that name the path of what is wrong (never the value of a secret).
#include <boost/test/unit_test.hpp>

#include <corobus/corobus.hpp>

#include <cstdio>
#include <fstream>
#include <string>

using namespace std::chrono_literals;

namespace {

// The error from_json gives for `json`; empty when it gave none.
std::string error_for(const std::string& json) {
  try {
    corobus::config::from_json(json);
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == corobus::errc::invalid_config));
    return e.what();
  }
  return {};
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(config_json, *boost::unit_test::label("unit"))

BOOST_AUTO_TEST_CASE(every_kind_of_field_is_read_by_its_name_and_the_rest_keeps_its_default) {
  const auto c = corobus::config::from_json(R"({
    "backend": "nats",
    "io_threads": 2,
    "close_grace": "1.5s",
    "retry": {"attempts": 5, "initial_backoff": "20ms", "max_backoff": "2s"},
    "dead_letters": {"give_up_after": "10min"},
    "kafka": {"bootstrap": "broker:9092", "properties": {"linger.ms": 5, "enable.idempotence": true,
                                                        "security.protocol": "SASL_SSL"}},
    "nats": {"url": "nats://a:4222,nats://b:4222", "retention": "work_queue", "ack_wait": "45s",
             "max_age": "1h", "max_bytes": 1048576, "partitions": 6,
             "security": {"user": "svc", "password": "hunter2"}}
  })");
  BOOST_TEST((c.backend == corobus::backend_kind::nats));
  BOOST_TEST(c.io_threads == 2u);
  BOOST_TEST(c.close_grace.count() == 1500);
  BOOST_TEST(c.retry.attempts == 5u);
  BOOST_TEST(c.retry.max_backoff.count() == 2000);
  BOOST_TEST(c.dead_letters.give_up_after.value().count() == 600'000);
  BOOST_TEST(c.kafka.bootstrap == "broker:9092");
  BOOST_TEST(c.kafka.properties.at("linger.ms") == "5");  // numbers and booleans as librdkafka's text
  BOOST_TEST(c.kafka.properties.at("enable.idempotence") == "true");
  BOOST_TEST(c.kafka.properties.at("security.protocol") == "SASL_SSL");
  BOOST_TEST(c.nats.url == "nats://a:4222,nats://b:4222");
  BOOST_TEST((c.nats.retention == corobus::nats_retention::work_queue));
  BOOST_TEST(c.nats.ack_wait.count() == 45'000);
  BOOST_TEST(c.nats.max_age.value().count() == 3'600'000);
  BOOST_TEST(c.nats.max_bytes.value() == 1048576);
  BOOST_TEST(c.nats.partitions == 6);
  BOOST_TEST(c.nats.security.password == "hunter2");
  const corobus::config defaults;
  BOOST_TEST(c.lanes == defaults.lanes);  // left out: the default
  BOOST_TEST(c.nats.lease_ttl == defaults.nats.lease_ttl);
}

BOOST_AUTO_TEST_CASE(an_unknown_key_a_wrong_type_or_a_bad_value_is_named_by_its_path) {
  BOOST_TEST(has(error_for(R"({"nats": {"ack_wiat": "5s"}})"), "config.nats: unknown key 'ack_wiat'"));
  BOOST_TEST(has(error_for(R"({"close_grace": "5 parsecs"})"), "config.close_grace: \"5 parsecs\" is not a duration"));
  BOOST_TEST(has(error_for(R"({"close_grace": 5000})"), "config.close_grace: 5000 must be a string"));
  BOOST_TEST(has(error_for(R"({"lanes": "many"})"), "config.lanes: \"many\" must be a whole number"));
  BOOST_TEST(has(error_for(R"({"lanes": -1})"), "config.lanes: -1 is out of range"));
  BOOST_TEST(has(error_for(R"({"backend": "kafak"})"), "config.backend: \"kafak\" is not one of memory, kafka, nats"));
  BOOST_TEST(has(error_for(R"({"retry": []})"), "config.retry: must be an object"));
  BOOST_TEST(has(error_for(R"({"kafka": {"properties": {"acks": ["all"]}}})"),
                 "config.kafka.properties.acks: must be a string, a number or a boolean"));
  BOOST_TEST(has(error_for(R"({"lanes": 0})"), "lanes must be between 1 and 65536"));  // validated
  BOOST_TEST(has(error_for(R"({"lanes": )"), "config: not JSON"));
}

BOOST_AUTO_TEST_CASE(the_value_of_a_secret_never_appears_in_an_error) {
  const auto e = error_for(R"({"nats": {"security": {"password": 918273645}}})");
  BOOST_TEST(has(e, "config.nats.security.password"));
  BOOST_TEST(!has(e, "918273645"));
  BOOST_TEST(!has(error_for(R"({"nats": {"security": {"token": ["s3cr3t-token"]}}})"), "s3cr3t"));
  BOOST_TEST(!has(error_for(R"({"kafka": {"properties": {"sasl.password": {"v": "s3cr3t"}}}})"), "s3cr3t"));
}

BOOST_AUTO_TEST_CASE(a_file_is_read_and_a_missing_one_is_named) {
  const std::string path = "corobus-config-test.json";
  std::ofstream(path) << R"({"backend": "kafka", "kafka": {"partitions": 12}})";
  const auto c = corobus::config::from_file(path);
  std::remove(path.c_str());
  BOOST_TEST(c.kafka.partitions == 12);
  try {
    corobus::config::from_file("/nonexistent/corobus.json");
    BOOST_FAIL("a missing file was read");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST(has(e.what(), "cannot read the file '/nonexistent/corobus.json'"));
  }
}

BOOST_AUTO_TEST_SUITE_END()
