// Envelope, topic names, config values: the checks that keep bad input out.
#include <boost/test/unit_test.hpp>

#include <corobus/corobus.hpp>
#include "envelope/raw_member.hpp"
#include "envelope/timestamp.hpp"

#include "envelope_checks.hpp"  // fuzz/: the rules the fuzz targets check, shared

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
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

template <class F>
boost::system::system_error system_error_of(F f) {
  try {
    f();
  } catch (const boost::system::system_error& e) {
    return e;
  }
  return boost::system::system_error(boost::system::error_code{});
}

envelope sample() {
  auto e = envelope::make("order-42", "OrderPlaced", 3, R"({"amount":12.5,"items":["a","b"]})");
  e.trace_id = "trace-1";
  e.correlation_id = "corr-1";
  e.tenant_id = "tenant-a";
  return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(envelopes, *boost::unit_test::label("unit"))

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
        R"("just a string")", "42", R"({ "spaced" : [ true , null ] })", "\"ev\"\n", " \t{\"a\":1}\r\n ", " 7"}) {
    auto e = envelope::make("order-1", "Priced", 1, payload);
    const auto text = e.encode();
    BOOST_TEST(envelope::decode(text).payload == payload);
  }
  // Producers that put the payload first or in the middle are read the same way.
  const auto e = envelope::decode(
      R"({"payload":{"n":1.10},"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1})");
  BOOST_TEST(e.payload == R"({"n":1.10})");
  // What a producer writes around the value is part of it: the text between ':' and ',' or '}'.
  const auto spaced = envelope::decode(
      "{\"event_id\":\"e\",\"aggregate_id\":\"a\",\"payload\" : [1] \n,\"event_type\":\"t\",\"event_version\":1}");
  BOOST_TEST(spaced.payload == " [1] \n");
}

BOOST_AUTO_TEST_CASE(decode_reads_what_the_go_event_bus_writes) {
  const auto e =
      envelope::decode(R"({"event_id":"evt-1","aggregate_id":"user:7","event_type":"UserCreated","event_version":1,)"
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
      {[](envelope& e) { e.payload = "null"; }, "payload is null"},
      {[](envelope& e) { e.payload = " null\n"; }, "payload is null"},
      {[](envelope& e) { e.payload = std::string(33, '[') + std::string(33, ']'); }, "nests deeper than 32 levels"},
      {[](envelope& e) { e.event_id = "e-\xff"; }, "event_id is not valid UTF-8 (byte 2)"},
      {[](envelope& e) { e.event_type = "T\xc3"; }, "event_type is not valid UTF-8"},             // cut short
      {[](envelope& e) { e.trace_id = "\xed\xa0\x80"; }, "trace_id is not valid UTF-8"},          // a surrogate
      {[](envelope& e) { e.correlation_id = "\xc0\xaf"; }, "correlation_id is not valid UTF-8"},  // overlong
      {[](envelope& e) { e.tenant_id = "\xf4\x90\x80\x80"; }, "tenant_id is not valid UTF-8"},    // > U+10FFFF
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
  // Any JSON value but null, surrounding space allowed. (Before issue 10 "null" passed here
  // and decode then refused it: now both sides refuse it.)
  for (const char* payload : {" {\"a\":1}\n", "[1,2]", "\"text\"", "12.50", "\"null\"", "[null]"}) {
    ok.payload = payload;
    BOOST_TEST(!ok.problem().has_value(), payload);
  }
  ok.payload = std::string(max_payload_depth, '[') + std::string(max_payload_depth, ']');
  BOOST_TEST(!ok.problem().has_value());  // the deepest payload allowed, and it decodes
  BOOST_TEST(envelope::decode(ok.encode()).payload == ok.payload);
  ok.aggregate_id = "A-z_0:9./x";
  ok.event_type = "T\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // multibyte UTF-8 is fine
  ok.trace_id = std::string("nul\0\"\\\x01", 8);            // and so are NUL, quotes and controls
  BOOST_TEST(!ok.problem().has_value());
  // A bad aggregate id is shown in the message, its unprintable bytes escaped.
  ok.aggregate_id = std::string("ord\0er\n", 7);
  BOOST_TEST(ok.problem().value_or("").find(R"('ord\x00er\x0a' contains a character outside)") != std::string::npos,
             ok.problem().value_or(""));
}

BOOST_AUTO_TEST_CASE(decode_rejects_what_is_not_a_valid_envelope) {
  const std::vector<std::string> bad{
      "",
      "not json",
      "[1,2,3]",
      R"({"aggregate_id":"a","event_type":"t","event_version":1,"payload":{}})",                   // no id
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":"1","payload":{}})",  // string version
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1.5,"payload":{}})",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1})",  // no payload
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"yesterday","payload":{}})",
      R"({"event_id":"e","aggregate_id":"a b","event_type":"t","event_version":1,"payload":{}})",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"payload":null})",  // null payload
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"","payload":{}})",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":5,"payload":{}})",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":18446744073709551615,"payload":{}})",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":{"v":1},"payload":{}})",
      R"({"event_id":["e"],"aggregate_id":"a","event_type":"t","event_version":1,"payload":{}})",  // id not a string
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"payload":{}} x)",  // trailing
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"payload":{})",     // cut short
      R"("text")",
      R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"payload":)" +
          std::string(max_payload_depth + 1, '[') + std::string(max_payload_depth + 1, ']') + "}",
      "{\"event_id\":\"e\xff\",\"aggregate_id\":\"a\",\"event_type\":\"t\",\"event_version\":1,\"payload\":{}}",
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
  BOOST_TEST(parse_rfc3339("2024-02-29t23:59:59.123456789z").has_value());
}

BOOST_AUTO_TEST_CASE(rfc3339_fields_out_of_range_are_refused_and_named) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"1677-09-21T00:00:00Z", "outside the range"},  // before the earliest time point
      {"2262-04-12T00:00:00Z", "outside the range"},  // after the latest
      {"0002-01-01T00:00:00Z", "outside the range"},  // used to wrap into another time
      {"1677-09-21T00:12:43.145224191Z", "outside the range"},
      {"2262-04-11T23:47:16.854775808Z", "outside the range"},
      {"2262-04-11T23:47:16.854775807-00:01", "outside the range"},
      {"2025-10-29T08:15:30+99:99", "offset hour"},
      {"2025-10-29T08:15:30+24:00", "offset hour"},
      {"2025-10-29T08:15:30-05:60", "offset minute"},
      {"2025-00-29T08:15:30Z", "month"},
      {"2025-13-29T08:15:30Z", "month"},
      {"2025-04-31T08:15:30Z", "day"},
      {"2025-01-00T08:15:30Z", "day"},
      {"2100-02-29T08:15:30Z", "day"},  // not a leap year
      {"2025-10-29T24:00:00Z", "hour"},
      {"2025-10-29T08:60:00Z", "minute"},
      {"2016-12-31T23:59:60Z", "second"},  // no leap seconds: system_clock has none
      {"2025-10-29T08:15:30.1234567891Z", "more than 9 digits"},
      {"2025-10-29T08:15:30.Z", "not of the form"},
      {"2025-10-29T08:15:30+0530", "not of the form"},
      {"+2025-10-29T08:15:30Z", "not of the form"},
  };
  for (const auto& [text, says] : bad) {
    std::string_view why;
    BOOST_TEST(!detail::parse_rfc3339(text, &why).has_value(), text);
    BOOST_TEST(why.find(says) != std::string_view::npos, text << ": " << why << " should say " << says);
    // decode refuses such an envelope with invalid_envelope, naming the field
    const auto doc = R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":")" + text +
                     R"(","payload":{}})";
    try {
      (void)envelope::decode(doc);
      BOOST_FAIL("decode accepted " << text);
    } catch (const boost::system::system_error& e) {
      BOOST_TEST((e.code() == errc::invalid_envelope));
      BOOST_TEST(std::string(e.what()).find("timestamp '" + text + "'") != std::string::npos, e.what());
    }
  }
  // The unprintable bytes of a bad timestamp are escaped in the message.
  const auto nul = std::string(R"({"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,)") +
                   R"("timestamp":"2025\u0000","payload":{}})";
  BOOST_TEST(std::string(system_error_of([&] { (void)envelope::decode(nul); }).what()).find("'2025\\x00'") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_time_point_is_written_and_read_back_exactly) {
  using clock = std::chrono::system_clock;
  using detail::format_rfc3339;
  using detail::parse_rfc3339;
  BOOST_TEST(format_rfc3339(clock::time_point::min()) == "1677-09-21T00:12:43.145224192Z");
  BOOST_TEST(format_rfc3339(clock::time_point::max()) == "2262-04-11T23:47:16.854775807Z");
  BOOST_TEST(format_rfc3339(clock::time_point(std::chrono::nanoseconds(-1))) == "1969-12-31T23:59:59.999999999Z");
  BOOST_TEST(format_rfc3339(clock::time_point{}) == "1970-01-01T00:00:00.000000000Z");
  BOOST_TEST((parse_rfc3339("2262-04-12T00:47:16.854775807+01:00") == clock::time_point::max()));
  BOOST_TEST((parse_rfc3339("1677-09-20T23:12:43.145224192-01:00") == clock::time_point::min()));
  BOOST_TEST((parse_rfc3339("2000-03-01T00:00:00Z") == clock::time_point(std::chrono::seconds(951868800))));
  std::mt19937_64 random(10);
  for (int i = 0; i < 20000; ++i) {
    const clock::time_point tp{clock::duration(static_cast<std::int64_t>(random()))};
    const auto back = parse_rfc3339(format_rfc3339(tp));
    BOOST_TEST_REQUIRE(back.has_value(), format_rfc3339(tp));
    BOOST_TEST_REQUIRE((*back == tp), format_rfc3339(tp));
  }
  // The envelope's own rule: extreme time points pass problem() and travel unchanged.
  for (const auto tp : {clock::time_point::min(), clock::time_point::max()}) {
    auto e = sample();
    e.timestamp = tp;
    BOOST_TEST(!e.problem().has_value());
    BOOST_TEST((envelope::decode(e.encode()).timestamp == tp));
  }
}

// Every input the fuzz targets keep in the tree (fuzz/corpus/*/: the issue's findings among
// them) through the decode target's checks, so a regression fails here without a fuzzer.
BOOST_AUTO_TEST_CASE(the_fuzz_corpus_replays_through_decode) {
  std::size_t files = 0;
  for (const auto& dir : std::filesystem::directory_iterator(COROBUS_FUZZ_CORPUS)) {
    for (const auto& file : std::filesystem::directory_iterator(dir.path())) {
      std::ifstream in(file.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const auto failure = checks::check_decode(bytes);
      BOOST_TEST(!failure.has_value(), file.path().string() << ": " << failure.value_or(""));
      ++files;
    }
  }
  BOOST_TEST(files > 0u);
}

namespace {

// Envelopes a fixed-seed generator makes from nasty parts: strings with NUL, quotes,
// backslashes, control bytes, multibyte and invalid UTF-8; payloads nested around the depth
// limit, wrapped in white space, null, cut short; versions and time points at their ends.
class envelope_generator {
 public:
  envelope next() {
    envelope e;
    e.event_id = pick(8) == 0 ? nasty() : "evt-" + std::to_string(random_()) + maybe_nasty();
    e.aggregate_id = aggregate_id();
    e.event_type = pick(8) == 0 ? nasty() : "Type" + maybe_nasty();
    e.event_version = version();
    e.timestamp = timestamp();
    e.trace_id = maybe_nasty();
    e.correlation_id = maybe_nasty();
    e.tenant_id = maybe_nasty();
    e.payload = payload();
    return e;
  }

 private:
  unsigned pick(unsigned n) { return std::uniform_int_distribution<unsigned>(0, n - 1)(random_); }

  std::string nasty() {
    static const std::vector<std::string> parts{"a",
                                                "Z9",
                                                std::string(1, '\0'),
                                                "\"",
                                                "\\",
                                                "\x01",
                                                "\x1f",
                                                "\x7f",
                                                "\n\t",
                                                "\xc3\xa9",
                                                "\xe2\x82\xac",
                                                "\xf0\x9f\x98\x80",
                                                "}",
                                                "\",\"payload\":",
                                                "\xff",
                                                "\xc0\xaf",
                                                "\xed\xa0\x80",
                                                "\xf4\x90\x80\x80",
                                                "\xe2\x82",
                                                "\x80"};
    std::string s;
    for (unsigned n = pick(5); n > 0; --n) s += parts[pick(static_cast<unsigned>(parts.size()))];
    return s;
  }
  std::string maybe_nasty() { return pick(3) == 0 ? nasty() : ""; }

  std::string aggregate_id() {
    switch (pick(10)) {
      case 0: return nasty();
      case 1: return std::string(256 + pick(2), 'a');
      default: return "order-" + std::to_string(pick(1000)) + (pick(2) ? ":x/y.z_w" : "");
    }
  }

  std::int64_t version() {
    constexpr auto max = std::numeric_limits<std::int64_t>::max(), min = std::numeric_limits<std::int64_t>::min();
    switch (pick(12)) {
      case 0: return 0;
      case 1: return -1;
      case 2: return max;
      case 3: return min;
      default: return 1 + pick(1000);
    }
  }

  std::chrono::system_clock::time_point timestamp() {
    using clock = std::chrono::system_clock;
    switch (pick(6)) {
      case 0: return clock::time_point::min();
      case 1: return clock::time_point::max();
      case 2: return clock::time_point(clock::duration(-1 - static_cast<std::int64_t>(pick(1000))));
      case 3: return clock::time_point(clock::duration(static_cast<std::int64_t>(random_())));
      default: return clock::now();
    }
  }

  std::string nested(std::size_t depth) {
    std::string open, close;
    for (std::size_t i = 0; i < depth; ++i) {
      const bool object = pick(2) == 0;
      open += object ? "{\"k\":" : "[";
      close.insert(0, object ? "}" : "]");
    }
    return open + "1.10" + close;
  }

  std::string payload() {
    static const std::vector<std::string> spaces{"", " ", "\n", "\t \r\n", "  "};
    static const std::vector<std::string> values{R"({"a":1})",
                                                 "1.10",
                                                 "12345678901234567890123",
                                                 "1e400",
                                                 "0e400",
                                                 "-0",
                                                 R"("ev")",
                                                 "true",
                                                 "[]",
                                                 "{}",
                                                 "null",
                                                 R"({"a":1,})",
                                                 "{",
                                                 R"({"a":1} x)",
                                                 "",
                                                 R"("\u0000\"\\")",
                                                 "\"\xff\"",
                                                 "\"\xc3\xa9\"",
                                                 "\"a\x01\""};
    std::string v;
    if (pick(4) == 0)
      v = nested(max_payload_depth - 2 + pick(4));  // 30 to 33 levels
    else
      v = values[pick(static_cast<unsigned>(values.size()))];
    const auto& before = spaces[pick(static_cast<unsigned>(spaces.size()))];
    const auto& after = spaces[pick(static_cast<unsigned>(spaces.size()))];
    return v.empty() ? v : before + v + after;
  }

  std::mt19937 random_{20251029};
};

}  // namespace

// The one rule for both sides: for every envelope with no problem(), decode(encode(e)) == e
// (and the DOM reads encode's output as decode does); what decode refuses, problem() refused.
BOOST_AUTO_TEST_CASE(what_problem_accepts_decodes_back_unchanged) {
  envelope_generator generate;
  std::size_t accepted = 0, refused = 0;
  for (int i = 0; i < 4000; ++i) {
    const auto e = generate.next();
    const auto failure = checks::check_round_trip(e);
    BOOST_TEST_REQUIRE(!failure.has_value(), "envelope " << i << ": " << failure.value_or(""));
    if (e.problem()) {
      ++refused;
      continue;
    }
    ++accepted;
    const auto decoded = checks::check_decode(e.encode());
    BOOST_TEST_REQUIRE(!decoded.has_value(), "envelope " << i << ": " << decoded.value_or(""));
  }
  // Both sides of the rule were exercised.
  BOOST_TEST(accepted > 400u);
  BOOST_TEST(refused > 400u);
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
  // The whole name is shown, unprintable bytes escaped (a NUL used to end the message).
  const std::string nul("ord\0ers", 7);
  const std::string what = system_error_of([&] { validate_topic(nul); }).what();
  BOOST_TEST(what.find(R"(invalid topic 'ord\x00ers': character code 0 at position 3)") != std::string::npos, what);
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
      {[](config& c) {
         c.backend = backend_kind::nats;
         c.nats.max_in_flight = 0;
       },
       "nats.max_in_flight"},
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

// What picks an envelope's lane before it is decoded (a producer that is not corobus may
// write no key, or another one): the top-level aggregate_id as decode reads it, and nothing,
// without harm, from any text that has none.
BOOST_AUTO_TEST_CASE(the_aggregate_id_is_read_from_the_text_before_decoding) {
  const auto read = [](std::string_view text) {
    std::string scratch;
    return std::string(corobus::detail::aggregate_id_of(text, scratch).value_or("(nothing)"));
  };
  const auto e = envelope::make("order-7", "Placed", 3, R"({"aggregate_id":"inner","n":[1,{"x":"}"}]})");
  BOOST_TEST(read(e.encode()) == "order-7");
  BOOST_TEST(read(R"( { "payload" : {"aggregate_id":"inner"}, "aggregate_id" : "a/b" } )") == "a/b");
  BOOST_TEST(read(R"({"aggregate_id":"a\/b\u0041"})") == "a/bA");                   // escapes, as decode reads them
  BOOST_TEST(read(R"({"aggregate\u005fid":"escaped-name"})") == "escaped-name");    // the name too
  BOOST_TEST(read(R"({"aggregate_id":"first","aggregate_id":"last"})") == "last");  // decode's rule
  BOOST_TEST(read(R"({"text":"a \"aggregate_id\":\"quoted\""})") == "(nothing)");
  for (const std::string_view broken :
       {"", "{", "[]", "\"aggregate_id\"", R"({"aggregate_id":17})", R"({"aggregate_id":null})",
        R"({"aggregate_id":"open)", R"({"aggregate_id":"a\"})", R"({"aggregate_id")", R"({"aggregate_id":)",
        R"({"payload":{"a":[1,2)", R"({"aggregate_id":"\uZZZZ"})", R"({"a":1 "aggregate_id":"x"})"})
    BOOST_TEST(read(broken) == "(nothing)", "from '" << broken << "'");
}

BOOST_AUTO_TEST_CASE(retry_backoff_doubles_up_to_its_cap) {
  retry_policy p{5, std::chrono::milliseconds(10), std::chrono::milliseconds(35)};
  BOOST_TEST(p.backoff_before(2).count() == 10);
  BOOST_TEST(p.backoff_before(3).count() == 20);
  BOOST_TEST(p.backoff_before(4).count() == 35);
  BOOST_TEST(p.backoff_before(9).count() == 35);
}

BOOST_AUTO_TEST_SUITE_END()
