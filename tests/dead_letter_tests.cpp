// Dead letters without a transport: the retry plan's decisions and fitting a letter to a
// record size (the rules in dead_letter_plan.hpp and dead_letter.hpp).
#include <boost/test/unit_test.hpp>

#include <corobus/eventbus/topic.hpp>
#include "core/dead_letter.hpp"
#include "core/dead_letter_plan.hpp"

#include <limits>
#include <random>

using namespace corobus;
using namespace corobus::detail;
using namespace std::chrono_literals;

namespace {

dead_letter_policy test_policy() {
  dead_letter_policy p;
  p.initial_backoff = 100ms;
  p.max_backoff = 800ms;
  p.log_interval = 10s;
  return p;
}

// A failed message on `orders` as a transport delivered it.
incoming_message failed(std::size_t value_bytes, corobus::headers headers, std::string key = "order-1") {
  auto m = std::make_shared<message>();
  m->topic = "orders";
  m->key = std::move(key);
  m->payload.assign(value_bytes, 'x');
  m->headers = std::move(headers);
  m->partition = 3;
  m->offset = 42;
  return incoming_message(std::move(m), nullptr);
}

// NATS's limits, as nats_backend states them, with max_payload `max_record`.
record_limits nats_like(std::size_t max_record) {
  record_limits l;
  l.max_record_bytes = max_record;
  l.max_header_bytes = 65535;
  l.header_block_overhead = 12;
  l.header_overhead = 4;
  l.key_header = "Corobus-Key";
  l.control_header_prefix = "Nats-";
  return l;
}

// The bytes `letter` takes under `l`: its header block, and the whole record.
std::pair<std::size_t, std::size_t> size_under(const message& letter, const record_limits& l) {
  std::size_t block = l.header_block_overhead;
  for (const auto& h : letter.headers) block += l.header_bytes(h.name.size(), h.value.size());
  if (!l.key_header.empty() && !letter.key.empty()) block += l.header_bytes(l.key_header.size(), letter.key.size());
  const auto key = l.key_header.empty() ? letter.key.size() : 0;
  return {block, l.record_overhead + key + block + letter.payload.size()};
}

std::string header_or_none(const message& m, std::string_view name) {
  const auto* v = find_header(m.headers, name);
  return v ? *v : "<none>";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dead_letters, *boost::unit_test::label("unit"))

BOOST_AUTO_TEST_CASE(transient_failures_back_off_doubling_then_the_message_is_held) {
  const auto policy = test_policy();
  dead_letter_plan plan(policy, 1000);
  const auto t0 = dead_letter_plan::clock::now();
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 3; ++i) {
    const auto s = plan.failed(write_failure::transient, t0);
    BOOST_TEST(!s.now_held);
    BOOST_TEST(s.log);
    waits.push_back(s.wait);
  }
  BOOST_TEST((waits == std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms}));
  BOOST_TEST(!plan.held());                                  // in flight meanwhile
  const auto s = plan.failed(write_failure::transient, t0);  // the backoff reached its maximum
  BOOST_TEST(s.now_held);
  BOOST_TEST(s.log);
  BOOST_TEST((s.wait == 800ms));
  BOOST_TEST(plan.held());
  BOOST_TEST(plan.failures() == 4u);
}

BOOST_AUTO_TEST_CASE(a_refusal_holds_at_once_and_a_held_message_is_logged_at_a_bounded_rate) {
  const auto policy = test_policy();
  dead_letter_plan plan(policy, 1000);
  const auto t0 = dead_letter_plan::clock::now();
  const auto first = plan.failed(write_failure::refused, t0);
  BOOST_TEST(first.now_held);
  BOOST_TEST(first.log);
  BOOST_TEST((first.wait == 800ms));
  // Tried every max_backoff; said again only once log_interval passed.
  int logged = 0;
  for (int i = 1; i <= 30; ++i) {
    const auto s = plan.failed(write_failure::refused, t0 + i * 800ms);
    BOOST_TEST(!s.now_held);
    BOOST_TEST(!s.give_up);  // give_up_after is unset: held until written
    BOOST_TEST((s.wait == 800ms));
    logged += s.log;
  }
  BOOST_TEST(logged == 2);  // at 10.4 s and 20.8 s of 24 s
}

BOOST_AUTO_TEST_CASE(a_record_too_large_is_cut_in_half_each_time_until_it_fits_then_refusal_holds) {
  const auto policy = test_policy();
  dead_letter_plan plan(policy, 1000);
  const auto now = dead_letter_plan::clock::now();
  for (std::size_t expected : {500u, 250u, 125u}) {
    const auto s = plan.failed(write_failure::too_large, now);
    BOOST_TEST((s.wait == 0ms));  // nothing to wait for
    BOOST_TEST(!s.now_held);
    BOOST_TEST(plan.value_budget() == expected);
  }
  dead_letter_plan empty(policy, 0);  // even an empty value did not fit: written bare
  BOOST_TEST(!empty.failed(write_failure::too_large, now).now_held);
  BOOST_TEST(empty.bare());
  BOOST_TEST(empty.failed(write_failure::too_large, now).now_held);  // nothing left to cut
}

BOOST_AUTO_TEST_CASE(give_up_after_ends_a_hold_once_it_lasted_that_long) {
  auto policy = test_policy();
  policy.give_up_after = 5s;
  dead_letter_plan plan(policy, 1000);
  const auto t0 = dead_letter_plan::clock::now();
  BOOST_TEST(plan.failed(write_failure::refused, t0).now_held);
  BOOST_TEST(!plan.failed(write_failure::refused, t0 + 4s).give_up);
  const auto s = plan.failed(write_failure::refused, t0 + 5s);
  BOOST_TEST(s.give_up);
  BOOST_TEST(s.log);
}

BOOST_AUTO_TEST_CASE(a_letter_that_fits_keeps_everything_and_adds_the_origin) {
  const auto in = failed(100, {{"X-Trace", "t-1"}, {"X-Aggregate-ID", "order-1"}});
  const auto draft = make_dead_letter(in, "boom", 3, nats_like(1'048'576));
  const auto letter = fit_dead_letter(draft, draft.value_budget);
  BOOST_TEST(letter.topic == "orders.dlq");
  BOOST_TEST(letter.key == "order-1");
  BOOST_TEST(letter.payload == in.msg->payload);
  BOOST_TEST(header_or_none(letter, "X-Trace") == "t-1");
  BOOST_TEST(header_or_none(letter, "X-Aggregate-ID") == "order-1");
  BOOST_TEST(header_or_none(letter, dead_letter_headers::error) == "boom");
  BOOST_TEST(header_or_none(letter, dead_letter_headers::origin_topic) == "orders");
  BOOST_TEST(header_or_none(letter, dead_letter_headers::origin_partition) == "3");
  BOOST_TEST(header_or_none(letter, dead_letter_headers::origin_offset) == "42");
  BOOST_TEST(header_or_none(letter, dead_letter_headers::attempts) == "3");
  BOOST_TEST(header_or_none(letter, dead_letter_headers::truncated) == "<none>");
  // Unbounded (the in-process backend): the same, and any value fits.
  const auto unbounded = make_dead_letter(in, "boom", 3, record_limits{});
  BOOST_TEST(unbounded.value_budget == std::numeric_limits<std::size_t>::max());
  BOOST_TEST((fit_dead_letter(unbounded, unbounded.value_budget).headers == letter.headers));
}

BOOST_AUTO_TEST_CASE(a_value_too_large_is_cut_to_what_fits_after_the_headers_and_says_so) {
  const auto in = failed(1'048'576, {{"X-Trace", "t-1"}});
  const auto limits = nats_like(1'048'576);
  const auto draft = make_dead_letter(in, "boom", 1, limits);
  const auto letter = fit_dead_letter(draft, draft.value_budget);
  BOOST_TEST(letter.payload == in.msg->payload.substr(0, letter.payload.size()));
  BOOST_TEST(header_or_none(letter, dead_letter_headers::truncated) == "value");
  BOOST_TEST(header_or_none(letter, dead_letter_headers::original_size) == "1048576");
  BOOST_TEST(header_or_none(letter, "X-Trace") == "t-1");  // the original headers stay
  const auto [block, record] = size_under(letter, limits);
  BOOST_TEST(record <= 1'048'576u);
  BOOST_TEST(record > 1'048'576u - 200);  // not wasteful either
  BOOST_TEST(block <= 65535u);
  // The plan halves the budget when a broker takes less than it said.
  const auto half = fit_dead_letter(draft, draft.value_budget / 2);
  BOOST_TEST(half.payload.size() == draft.value_budget / 2);
}

BOOST_AUTO_TEST_CASE(header_blocks_at_the_server_limit_keep_the_smallest_headers_and_mark_the_rest) {
  // A producer that is not corobus wrote a header block of 65,442 bytes: one large header,
  // a medium one and small ones (as in issue 28), and a value at max_payload.
  const auto limits = nats_like(1'048'576);
  corobus::headers big = {{"X-Small-1", "a"},
                          {"X-Large", std::string(60'000, 'L')},
                          {"X-Medium", std::string(5'000, 'M')},
                          {"X-Small-2", "b"}};
  std::size_t block = 12;
  for (const auto& h : big) block += h.name.size() + h.value.size() + 4;
  big.push_back({"X-Pad", std::string(65'442 - block - 9, 'p')});
  const auto in = failed(1'048'576 - 65'442, big);
  const auto draft = make_dead_letter(in, std::string(10'000, 'e'), 1, limits);
  const auto letter = fit_dead_letter(draft, draft.value_budget);
  const auto [letter_block, record] = size_under(letter, limits);
  BOOST_TEST(letter_block <= 65535u);
  BOOST_TEST(record <= 1'048'576u);
  BOOST_TEST(header_or_none(letter, "X-Small-1") == "a");
  BOOST_TEST(header_or_none(letter, "X-Small-2") == "b");
  BOOST_TEST(header_or_none(letter, "X-Medium").size() == 5'000u);
  BOOST_TEST(header_or_none(letter, "X-Large") == "<none>");  // the largest go first
  BOOST_TEST(header_or_none(letter, dead_letter_headers::truncated) == "headers");
  BOOST_TEST(header_or_none(letter, dead_letter_headers::dropped_headers) == "1");
  BOOST_TEST(header_or_none(letter, dead_letter_headers::error).size() == max_error_header_bytes);
  BOOST_TEST(header_or_none(letter, dead_letter_headers::origin_offset) == "42");
  BOOST_TEST(letter.key == "order-1");
  BOOST_TEST(letter.payload == in.msg->payload);  // the value still fits: headers cut, not the value
}

BOOST_AUTO_TEST_CASE(every_header_block_and_value_up_to_the_limits_gives_a_letter_within_them) {
  // A walk over header blocks of 0..65,535 bytes made of 1 to 40 headers, keys of 0..64 KiB
  // and values up to what is left of max_payload, on small and default servers.
  std::mt19937 random(28);
  for (const std::size_t max_payload : {std::size_t{70'000}, std::size_t{1'048'576}}) {
    const auto limits = nats_like(max_payload);
    for (int round = 0; round < 300; ++round) {
      corobus::headers headers;
      std::size_t block = 12;
      const auto target = std::uniform_int_distribution<std::size_t>(0, 65'535)(random);
      const int count = std::uniform_int_distribution<int>(1, 40)(random);
      for (int i = 0; i < count && block + 20 < target; ++i) {
        const auto value = std::uniform_int_distribution<std::size_t>(0, (target - block) / 2)(random);
        headers.push_back({"X-H" + std::to_string(i), std::string(value, 'v')});
        block += headers.back().name.size() + value + 4;
      }
      const auto key = std::uniform_int_distribution<std::size_t>(0, 2)(random) == 0 ? 65'535 - block : 0;
      const auto value = max_payload > block + key ? max_payload - block - key : 0;
      const auto in = failed(std::uniform_int_distribution<std::size_t>(0, value)(random), headers,
                             std::string(key > 40 ? key - 40 : 0, 'k'));
      const auto draft = make_dead_letter(in, std::string(5000, 'e'), 1, limits);
      const auto letter = fit_dead_letter(draft, draft.value_budget);
      const auto [letter_block, record] = size_under(letter, limits);
      BOOST_TEST_REQUIRE(letter_block <= 65535u);
      BOOST_TEST_REQUIRE(record <= max_payload);
      const auto marked = header_or_none(letter, dead_letter_headers::truncated);
      const bool headers_cut = draft.letter.headers.size() < headers.size();
      BOOST_TEST_REQUIRE((marked.find("headers") != std::string::npos) == headers_cut);
      if (headers_cut)
        BOOST_TEST_REQUIRE(header_or_none(letter, dead_letter_headers::dropped_headers) ==
                           std::to_string(headers.size() - draft.letter.headers.size()));
      BOOST_TEST_REQUIRE((marked.find("value") != std::string::npos) ==
                         (letter.payload.size() < in.msg->payload.size()));
      BOOST_TEST_REQUIRE((marked.find("key") != std::string::npos) == (letter.key.size() < in.msg->key.size()));
    }
  }
}

BOOST_AUTO_TEST_CASE(headers_that_would_steer_the_transport_are_kept_under_another_name) {
  const auto in = failed(10, {{"Nats-Expected-Stream", "orders"},
                              {"nats-rollup", "all"},
                              {"Nats-Expected-Last-Sequence", "7"},
                              {"X-Trace", "t-1"}});
  const auto letter = fit_dead_letter(make_dead_letter(in, "boom", 1, nats_like(1'048'576)), 10);
  for (const auto& h : letter.headers) BOOST_TEST(!h.name.starts_with("Nats-"));
  BOOST_TEST(header_or_none(letter, "nats-rollup") == "<none>");
  BOOST_TEST(header_or_none(letter, "x-corobus-original-Nats-Expected-Stream") == "orders");
  BOOST_TEST(header_or_none(letter, "x-corobus-original-nats-rollup") == "all");
  BOOST_TEST(header_or_none(letter, "x-corobus-original-Nats-Expected-Last-Sequence") == "7");
  BOOST_TEST(header_or_none(letter, "X-Trace") == "t-1");
  // Kafka has no such headers: kept as they are.
  const auto kafka = fit_dead_letter(make_dead_letter(in, "boom", 1, record_limits{}), 10);
  BOOST_TEST(header_or_none(kafka, "Nats-Expected-Stream") == "orders");
}

BOOST_AUTO_TEST_CASE(a_key_that_does_not_fit_is_left_out_and_a_bare_letter_keeps_only_the_origin) {
  const auto limits = nats_like(1'048'576);
  const auto in = failed(100, {{"X-Trace", "t-1"}}, std::string(65'500, 'k'));
  const auto draft = make_dead_letter(in, "boom", 1, limits);
  const auto letter = fit_dead_letter(draft, draft.value_budget);
  BOOST_TEST(letter.key.empty());
  BOOST_TEST(header_or_none(letter, dead_letter_headers::truncated) == "key");
  BOOST_TEST(header_or_none(letter, "X-Trace") == "t-1");
  BOOST_TEST(size_under(letter, limits).first <= 65535u);

  const auto small = failed(100, {{"X-Trace", "t-1"}, {"X-Other", "o"}});
  const auto bare = fit_dead_letter(make_dead_letter(small, "boom", 1, limits), 0, true);
  BOOST_TEST(bare.key.empty());
  BOOST_TEST(bare.payload.empty());
  BOOST_TEST(header_or_none(bare, "X-Trace") == "<none>");
  BOOST_TEST(header_or_none(bare, dead_letter_headers::truncated) == "headers,key,value");
  BOOST_TEST(header_or_none(bare, dead_letter_headers::dropped_headers) == "2");
  BOOST_TEST(header_or_none(bare, dead_letter_headers::original_size) == "100");
  BOOST_TEST(header_or_none(bare, dead_letter_headers::origin_topic) == "orders");
}

BOOST_AUTO_TEST_CASE(kafka_counts_the_key_in_the_record_and_has_no_header_block_limit) {
  record_limits kafka;
  kafka.max_record_bytes = 1'000'000;
  kafka.record_overhead = 64;
  kafka.header_overhead = 10;
  const auto in = failed(1'000'000, {{"X-Large", std::string(200'000, 'L')}}, std::string(300'000, 'k'));
  const auto draft = make_dead_letter(in, "boom", 1, kafka);
  const auto letter = fit_dead_letter(draft, draft.value_budget);
  BOOST_TEST(letter.key == in.msg->key);
  BOOST_TEST(header_or_none(letter, "X-Large").size() == 200'000u);  // no 64 KiB limit here
  BOOST_TEST(size_under(letter, kafka).second <= 1'000'000u);
  BOOST_TEST(header_or_none(letter, dead_letter_headers::truncated) == "value");
}

BOOST_AUTO_TEST_SUITE_END()
