// Envelope, topic names, config values: the checks that keep bad input out.
#include <boost/test/unit_test.hpp>

#include <corobus/corobus.hpp>
#include <corobus/eventbus/detail/timestamp.hpp>

#include <boost/json.hpp>

#include <regex>
#include <set>

using namespace corobus;

namespace {

template <class F>
boost::system::error_code error_of(F f) {
  try {
    f();
  } catch (const boost::system::system_error& e) {
    return e.code();
  }
  return {};
}

envelope sample() {
  auto e = envelope::make("order-42", "OrderPlaced", 3, R"({"amount":12.5,"items":["a","b"]})");
  e.trace_id = "trace-1";
  e.correlation_id = "corr-1";
  e.tenant_id = "tenant-a";
  return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(envelopes)

BOOST_AUTO_TEST_CASE(event_ids_are_uuid_v7_and_sort_by_creation) {
  static const std::regex v7("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::vector<std::string> ids;
  for (int i = 0; i < 20000; ++i) ids.push_back(make_uuid_v7());
  for (const auto& id : ids) BOOST_TEST_REQUIRE(std::regex_match(id, v7), id);
  BOOST_TEST(std::is_sorted(ids.begin(), ids.end()));
  BOOST_TEST(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
}

BOOST_AUTO_TEST_CASE(encode_then_decode_gives_the_same_envelope) {
  auto e = sample();
  e.payload = R"({"amount":12,"items":["a","b"],"note":"x"})";
  const auto decoded = envelope::decode(e.encode());
  BOOST_TEST(decoded.event_id == e.event_id);
  BOOST_TEST((decoded.timestamp == e.timestamp));
  BOOST_TEST((decoded == e));
}

BOOST_AUTO_TEST_CASE(the_payload_travels_exactly_as_written) {
  // Numbers Boost.JSON would rewrite (1.10 -> 1.1E0) or round (beyond 64 bits), strings
  // with escapes and braces, nesting and white space all come back byte for byte.
  for (const std::string payload :
       {R"({"price":1.10,"big":12345678901234567890123,"tiny":1e-400})", R"([1, 2.50, {"a":"}{\"x"}])",
        R"("just a string")", "42", R"({ "spaced" : [ true , null ] })"}) {
    auto e = envelope::make("order-1", "Priced", 1, payload);
    const auto text = e.encode();
    BOOST_TEST(envelope::decode(text).payload == payload);
  }
  // Producers that put the payload first or in the middle are read the same way.
  const auto e = envelope::decode(
      R"({"payload":{"n":1.10},"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1})");
  BOOST_TEST(e.payload == R"({"n":1.10})");
}

BOOST_AUTO_TEST_CASE(decode_reads_what_the_go_event_bus_writes) {
  const auto e = envelope::decode(
      R"({"event_id":"evt-1","aggregate_id":"user:7","event_type":"UserCreated","event_version":1,)"
      R"("timestamp":"2025-10-29T16:04:05+08:00","tenant_id":"t1","payload":{"name":"x"}})");
  BOOST_TEST(e.aggregate_id == "user:7");
  BOOST_TEST(e.tenant_id == "t1");
  BOOST_TEST(e.payload == R"({"name":"x"})");
  BOOST_TEST(detail::format_rfc3339(e.timestamp) == "2025-10-29T08:04:05.000000000Z");
}

BOOST_AUTO_TEST_CASE(decode_reads_escapes_repeats_and_members_it_does_not_know) {
  // Keys and values with escapes, members in any order, unknown members (nested too), a
  // repeated member (its last value counts), a payload whose key is written with escapes.
  const auto e = envelope::decode(
      R"({"extra":{"event_id":"inner","payload":null},"event_\u0069d":"first","event_id":"e-\"2\"",)"
      R"("aggregate_id":"a/1","event_type":"T\u00e9","event_version":7,"trace_id":"tr","list":[1,{"a":[]}],)"
      R"("correlation_id":"c","pay\u006coad":{"k":[1.10]}})");
  BOOST_TEST(e.event_id == R"(e-"2")");
  BOOST_TEST(e.aggregate_id == "a/1");
  BOOST_TEST(e.event_type == "T\xc3\xa9");
  BOOST_TEST(e.event_version == 7);
  BOOST_TEST(e.trace_id == "tr");
  BOOST_TEST(e.correlation_id == "c");
  BOOST_TEST(e.tenant_id.empty());
  BOOST_TEST(e.payload == R"({"k":[1.10]})");
  // A string member given another kind of value counts as missing.
  BOOST_TEST(envelope::decode(R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,)"
                              R"("tenant_id":5,"payload":1})")
                 .tenant_id.empty());
}

BOOST_AUTO_TEST_CASE(validation_names_each_broken_rule) {
  struct broken {
    std::function<void(envelope&)> change;
    std::string says;
  };
  const std::vector<broken> cases{
      {[](envelope& e) { e.event_id.clear(); }, "event_id is empty"},
      {[](envelope& e) { e.aggregate_id.clear(); }, "aggregate_id is empty"},
      {[](envelope& e) { e.aggregate_id = std::string(257, 'a'); }, "at most 256"},
      {[](envelope& e) { e.aggregate_id = "order 42"; }, "outside [A-Za-z0-9:_-./]"},
      {[](envelope& e) { e.aggregate_id = "order\xc3\xa9"; }, "outside"},
      {[](envelope& e) { e.event_type.clear(); }, "event_type is empty"},
      {[](envelope& e) { e.event_version = 0; }, "event_version must be > 0"},
      {[](envelope& e) { e.event_version = -3; }, "event_version must be > 0"},
      {[](envelope& e) { e.payload.clear(); }, "payload is empty"},
      {[](envelope& e) { e.payload = "{not json"; }, "payload is not valid JSON"},
      {[](envelope& e) { e.payload = R"({"a":1} trailing)"; }, "payload is not valid JSON"},
      {[](envelope& e) { e.payload = R"({"a":1}{"b":2})"; }, "payload is not valid JSON"},
      {[](envelope& e) { e.payload = R"({"a":1,})"; }, "payload is not valid JSON"},
  };
  for (const auto& c : cases) {
    auto e = sample();
    c.change(e);
    const auto problem = e.problem();
    BOOST_TEST_REQUIRE(problem.has_value(), c.says);
    BOOST_TEST(problem->find(c.says) != std::string::npos, *problem << " should say " << c.says);
    BOOST_TEST((error_of([&] { e.validate(); }) == errc::invalid_envelope));
    BOOST_TEST((error_of([&] { (void)e.encode(); }) == errc::invalid_envelope));
  }
  auto ok = sample();
  ok.aggregate_id = std::string(256, 'z');
  BOOST_TEST(!ok.problem().has_value());
  for (const char* payload : {" {\"a\":1}\n", "[1,2]", "\"text\"", "12.50", "null"}) {
    ok.payload = payload;
    BOOST_TEST(!ok.problem().has_value(), payload);  // any JSON value, surrounding space allowed
  }
  ok.aggregate_id = "A-z_0:9./x";
  BOOST_TEST(!ok.problem().has_value());
}

BOOST_AUTO_TEST_CASE(decode_rejects_what_is_not_a_valid_envelope) {
  const std::vector<std::string> bad{
      "",
      "not json",
      "[1,2,3]",
      R"({"aggregate_id":"a","event_type":"t","event_version":1,"payload":{}})",               // no id
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":"1","payload":{}})",  // string version
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1.5,"payload":{}})",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1})",             // no payload
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"yesterday","payload":{}})",
      R"({"event_id":"e","aggregate_id":"a b","event_type":"t","event_version":1,"payload":{}})",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"payload":null})",  // null payload
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"","payload":{}})",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":5,"payload":{}})",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":18446744073709551615,"payload":{}})",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":{"v":1},"payload":{}})",
      R"({"event_id":["e"],"aggregate_id":"a","event_type":"t","event_version":1,"payload":{}})",  // id not a string
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"payload":{}} x)",  // trailing
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"payload":{})",   // cut short
      R"("text")",
  };
  for (const auto& text : bad)
    BOOST_TEST((error_of([&] { (void)envelope::decode(text); }) == errc::invalid_envelope), text);
}

BOOST_AUTO_TEST_CASE(rfc3339_parsing_accepts_offsets_and_fractions) {
  using detail::parse_rfc3339;
  const auto z = parse_rfc3339("2024-02-29T23:59:59.5Z");
  BOOST_TEST_REQUIRE(z.has_value());
  BOOST_TEST(detail::format_rfc3339(*z) == "2024-02-29T23:59:59.500000000Z");
  BOOST_TEST(parse_rfc3339("2024-02-29T23:59:59-01:30").has_value());
  BOOST_TEST(!parse_rfc3339("2023-02-29T00:00:00Z").has_value());  // not a leap year
  BOOST_TEST(!parse_rfc3339("2024-01-01T00:00:00").has_value());   // no offset
  BOOST_TEST(!parse_rfc3339("2024-01-01T25:00:00Z").has_value());
  BOOST_TEST(!parse_rfc3339("2024-01-01T00:00:00Zjunk").has_value());
}

BOOST_AUTO_TEST_CASE(metadata_travels_as_headers) {
  const auto e = sample();
  const auto hs = metadata_headers(e);
  BOOST_TEST(*find_header(hs, "X-Event-ID") == e.event_id);
  BOOST_TEST(*find_header(hs, "X-Aggregate-ID") == "order-42");
  BOOST_TEST(*find_header(hs, "X-Event-Type") == "OrderPlaced");
  BOOST_TEST(*find_header(hs, "X-Event-Version") == "3");
  BOOST_TEST(*find_header(hs, "X-Trace-ID") == "trace-1");
  BOOST_TEST(*find_header(hs, "X-Correlation-ID") == "corr-1");
  BOOST_TEST(*find_header(hs, "X-Tenant-ID") == "tenant-a");
  auto bare = envelope::make("a", "t", 1, "{}");
  BOOST_TEST(metadata_headers(bare).size() == 4u);
  BOOST_TEST(find_header(metadata_headers(bare), "X-Tenant-ID") == nullptr);
}

BOOST_AUTO_TEST_CASE(topic_names_follow_the_rules_of_every_backend) {
  for (const char* good : {"orders", "orders.dlq", "a", "Orders_v2-eu.west", "x.y.z"})
    BOOST_TEST(!topic_problem(good).has_value(), good);
  BOOST_TEST(!topic_problem(std::string(249, 't')).has_value());
  const std::vector<std::pair<std::string, std::string>> bad{
      {"", "empty"},
      {std::string(250, 't'), "at most 249"},
      {"orders events", "code 32"},
      {"orders.*", "'*'"},
      {"orders.>", "'>'"},
      {"ord\xc3\xa9rs", "code 195"},
      {".orders", "empty dot-separated token"},
      {"orders.", "empty dot-separated token"},
      {"orders..v2", "empty dot-separated token"},
  };
  for (const auto& [name, says] : bad) {
    const auto p = topic_problem(name);
    BOOST_TEST_REQUIRE(p.has_value(), name);
    BOOST_TEST(p->find(says) != std::string::npos, *p << " should say " << says);
    BOOST_TEST((error_of([&] { validate_topic(name); }) == errc::invalid_topic));
  }
  BOOST_TEST(dead_letter_topic("orders") == "orders.dlq");
}

BOOST_AUTO_TEST_CASE(bad_config_values_are_named) {
  const std::vector<std::pair<std::function<void(config&)>, std::string>> bad{
      {[](config& c) { c.io_threads = 5000; }, "io_threads"},
      {[](config& c) { c.lanes = 0; }, "lanes"},
      {[](config& c) { c.lane_capacity = 0; }, "lane_capacity"},
      {[](config& c) { c.concurrency = 0; }, "concurrency"},
      {[](config& c) { c.stream_capacity = 0; }, "stream_capacity"},
      {[](config& c) { c.retry.attempts = 0; }, "retry.attempts"},
      {[](config& c) { c.retry.initial_backoff = std::chrono::milliseconds(-1); }, "initial_backoff"},
      {[](config& c) { c.retry.max_backoff = std::chrono::milliseconds(1); }, "max_backoff"},
      {[](config& c) { c.close_grace = std::chrono::milliseconds(-5); }, "close_grace"},
      {[](config& c) { c.backend = static_cast<backend_kind>(42); }, "backend"},
  };
  for (const auto& [change, says] : bad) {
    config c;
    change(c);
    try {
      c.validate();
      BOOST_FAIL("expected invalid_config for " << says);
    } catch (const boost::system::system_error& e) {
      BOOST_TEST((e.code() == errc::invalid_config));
      BOOST_TEST(std::string(e.what()).find(says) != std::string::npos, e.what());
    }
  }
  config c;
  c.lanes = 0;
  BOOST_TEST((error_of([&] { bus b(c); }) == errc::invalid_config));  // the bus refuses to open
}

BOOST_AUTO_TEST_CASE(retry_backoff_doubles_up_to_its_cap) {
  retry_policy p{5, std::chrono::milliseconds(10), std::chrono::milliseconds(35)};
  BOOST_TEST(p.backoff_before(2).count() == 10);
  BOOST_TEST(p.backoff_before(3).count() == 20);
  BOOST_TEST(p.backoff_before(4).count() == 35);
  BOOST_TEST(p.backoff_before(9).count() == 35);
}

BOOST_AUTO_TEST_SUITE_END()
