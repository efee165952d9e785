// The NATS backend under records that corobus did not write: a plain cnats producer writes
// header-less envelopes, header blocks at the server's 64 KiB limit with values at
// max_payload, headers that steer JetStream; and an operator removes a dead-letter stream
// under a running bus. What every backend does with foreign records is in the conformance
// suite; these are the limits and the server behaviour that only NATS has.
#include <boost/test/unit_test.hpp>

#include "nats_test_config.hpp"
#include "raw_nats.hpp"
#include "seen_versions.hpp"
#include "support.hpp"

#include <corobus/awaitables/nats/embedded_server.hpp>
#include <corobus/corobus.hpp>
#include "backends/nats/stream_names.hpp"

#include <string>
#include <vector>

using namespace corobus;
using namespace corobus::test;

namespace {

std::string header_or_none(const message& m, std::string_view name) {
  const auto* v = find_header(m.headers, name);
  return v ? *v : "<none>";
}

// `headers` and a padding header that makes their block exactly `block` bytes.
corobus::headers padded_to(std::size_t block, corobus::headers headers) {
  const auto without = header_block_bytes(headers) + std::string_view("X-Pad").size() + 4;
  BOOST_TEST_REQUIRE(block >= without);
  headers.push_back({"X-Pad", std::string(block - without, 'p')});
  BOOST_TEST_REQUIRE(header_block_bytes(headers) == block);
  return headers;
}

// `count` small headers whose block is `block` bytes.
corobus::headers many_small(std::size_t count, std::size_t block) {
  corobus::headers headers;
  for (std::size_t i = 0; i < count; ++i) headers.push_back({"X-Tag-" + std::to_string(i), "t"});
  return padded_to(block, std::move(headers));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nats_hostile_input, *boost::unit_test::label("nats") * boost::unit_test::label("fault"))

BOOST_AUTO_TEST_CASE(header_less_envelopes_from_another_producer_keep_their_aggregate_order) {
  nats::embedded_server server;
  bus b(nats_bus_config(server.url()));
  raw_nats raw(server.url());
  seen_versions seen;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("foreign", [&](const envelope& e) -> asio::awaitable<void> {
      seen.add(e);
      co_return;
    });
  });
  // 50 aggregates x 10 versions, interleaved; the even versions without any header.
  for (int v = 1; v <= 10; ++v)
    for (int a = 0; a < 50; ++a) {
      const auto e = envelope::make("agg-" + std::to_string(a), "Changed", v, "{}");
      corobus::headers headers;
      if (v % 2 == 1) headers = {{"X-Aggregate-ID", e.aggregate_id}, {"X-Event-ID", e.event_id}};
      raw.publish("foreign", e.encode(), headers);
    }
  BOOST_TEST_REQUIRE(eventually([&] { return seen.size() >= 500; }, 30s));
  BOOST_TEST(seen.first_seen_out_of_order() == 0u);
  BOOST_TEST(seen.gaps() == 0u);
  BOOST_TEST(seen.repeats() == 0u);
  b.close();
}

BOOST_AUTO_TEST_CASE(header_blocks_at_the_server_limit_with_values_at_max_payload_are_all_dead_lettered) {
  nats::embedded_server server;
  auto cfg = nats_bus_config(server.url());
  cfg.nats.max_in_flight = 20;
  bus b(cfg);
  raw_nats raw(server.url());
  const auto max_payload = raw.max_payload();
  seen_versions seen;
  inbox<message> letters;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes("hostile", [&](const envelope& e) -> asio::awaitable<void> {
      if (e.event_type == "Poison") throw std::runtime_error("poison");
      seen.add(e);
      co_return;
    });
    co_await b.async_subscribe(dead_letter_topic("hostile"), letters.collector());
  });

  struct record {
    std::string payload;
    corobus::headers headers;
    bool headers_fit;  // the letter can keep every original header
  };
  std::vector<record> invalid;
  for (const std::size_t block : {std::size_t{60'000}, std::size_t{65'442}, std::size_t{65'534}, std::size_t{65'535}}) {
    const bool fit = block == 60'000;
    // Not JSON, the value at max_payload: one large header, then 1,500 small ones.
    invalid.push_back({std::string(max_payload - block, 'n'), padded_to(block, {{"X-Trace", "t-1"}}), fit});
    invalid.push_back({std::string(max_payload - block, 'n'), many_small(1'500, block), fit});
    // A valid envelope its handler refuses, with corobus's own headers in the block.
    const auto poison = envelope::make("poison-" + std::to_string(block), "Poison", 1, "{}");
    invalid.push_back({poison.encode(),
                       padded_to(block, {{"X-Aggregate-ID", poison.aggregate_id}, {"X-Event-ID", poison.event_id}}),
                       fit});
  }
  // Headers that steer JetStream, which a copy would turn against the dead-letter stream.
  invalid.push_back({"not json", {{"Nats-Expected-Stream", detail::jetstream_name("hostile")}}, true});
  for (const auto& r : invalid) raw.publish("hostile", r.payload, r.headers);
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    for (int v = 1; v <= 10; ++v)
      for (int a = 0; a < 10; ++a)
        co_await b.async_publish_envelope("hostile", envelope::make("agg-" + std::to_string(a), "Changed", v, "{}"));
  });

  BOOST_TEST_REQUIRE(eventually([&] { return letters.size() >= invalid.size() && seen.size() >= 100; }, 60s));
  BOOST_TEST(seen.gaps() == 0u);
  BOOST_TEST(b.metrics().held == 0u);
  BOOST_TEST(b.metrics().dead_lettered == invalid.size());
  const auto all = letters.copy();
  BOOST_TEST_REQUIRE(all.size() == invalid.size());
  for (const auto& letter : all) {
    const auto offset = std::stoull(header_or_none(letter, dead_letter_headers::origin_offset));
    BOOST_TEST_REQUIRE(offset >= 1u);
    BOOST_TEST_REQUIRE(offset <= invalid.size());
    const auto& r = invalid[offset - 1];
    const auto truncated = header_or_none(letter, dead_letter_headers::truncated);
    BOOST_TEST((truncated.find("headers") == std::string::npos) == r.headers_fit, offset << ": " << truncated);
    const bool value_cut = letter.payload.size() < r.payload.size();
    BOOST_TEST((truncated.find("value") != std::string::npos) == value_cut, offset << ": " << truncated);
    BOOST_TEST(letter.payload == r.payload.substr(0, letter.payload.size()));
    if (value_cut)
      BOOST_TEST(header_or_none(letter, dead_letter_headers::original_size) == std::to_string(r.payload.size()));
    BOOST_TEST(header_or_none(letter, dead_letter_headers::origin_topic) == "hostile");
    BOOST_TEST(header_or_none(letter, dead_letter_headers::error) != "<none>");
    if (r.headers.front().name == "Nats-Expected-Stream")
      BOOST_TEST(header_or_none(letter, "x-corobus-original-Nats-Expected-Stream") ==
                 detail::jetstream_name("hostile"));
    else if (r.headers_fit)
      BOOST_TEST(header_or_none(letter, "X-Pad") == *find_header(r.headers, "X-Pad"));
  }
  b.close();
  BOOST_TEST(b.metrics().live_tasks == 0u);
}

// A dead letter no cut can fix: its stream is gone (an operator removed it under a bus that
// only validates). Each such message is held, logged once, and kept unacknowledged; the
// other keys go on though the held ones outnumber the in-flight window; once the stream is
// back every held message is written.
void held_messages_leave_the_window_to_the_others(int partitions) {
  nats::embedded_server server;
  raw_nats raw(server.url());
  const std::string topic = "held";
  std::vector<std::string> subjects{topic};
  if (partitions > 0) {
    subjects.clear();
    for (int p = 0; p < partitions; ++p) subjects.push_back(topic + "." + std::to_string(p));
  }
  const auto stream = detail::jetstream_name(topic);
  const auto dlq_stream = detail::jetstream_name(dead_letter_topic(topic));
  raw.add_stream(stream, subjects);
  raw.add_stream(dlq_stream, {dead_letter_topic(topic)});

  auto cfg = nats_bus_config(server.url());
  cfg.nats.topics = topic_strategy::validate_only;
  cfg.nats.partitions = partitions;
  cfg.nats.max_in_flight = 20;
  cfg.nats.publish_timeout = std::chrono::milliseconds(1000);
  cfg.dead_letters.initial_backoff = std::chrono::milliseconds(10);
  cfg.dead_letters.max_backoff = std::chrono::milliseconds(20);  // held after the second timeout
  bus b(cfg);
  seen_versions seen;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    co_await b.async_subscribe_envelopes(
        topic,
        [&](const envelope& e) -> asio::awaitable<void> {
          seen.add(e);
          co_return;
        },
        subscribe_options("keepers"));
  });
  raw.delete_stream(dlq_stream);
  const auto held_logged = logged_warnings_containing("is held: its dead letter");
  const auto still_logged = logged_warnings_containing("is still held");

  constexpr std::size_t poisoned = 30;  // more than the window
  for (std::size_t i = 0; i < poisoned; ++i)
    raw.publish(subjects[i % subjects.size()], "not json " + std::to_string(i),
                {{"Corobus-Key", "poison-" + std::to_string(i)}});
  BOOST_TEST_REQUIRE(eventually([&] { return b.metrics().held == poisoned; }, 60s));
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    for (int v = 1; v <= 10; ++v)
      for (int a = 0; a < 10; ++a)
        co_await b.async_publish_envelope(topic, envelope::make("agg-" + std::to_string(a), "Changed", v, "{}"));
  });
  BOOST_TEST_REQUIRE(eventually([&] { return seen.size() >= 100; }, 30s));
  BOOST_TEST(seen.gaps() == 0u);
  BOOST_TEST(b.metrics().held == poisoned);
  if (partitions == 0)  // unacknowledged on the server all along
    BOOST_TEST(raw.ack_pending(stream, detail::jetstream_name("keepers")) >= static_cast<std::int64_t>(poisoned));
  BOOST_TEST(logged_warnings_containing("is held: its dead letter") - held_logged == poisoned);
  BOOST_TEST(logged_warnings_containing("is still held") == still_logged);  // not again within log_interval

  raw.add_stream(dlq_stream, {dead_letter_topic(topic)});  // the operator puts it back
  BOOST_TEST(eventually([&] { return b.metrics().held == 0u && b.metrics().dead_lettered == poisoned; }, 30s));
  b.close();
  BOOST_TEST(b.metrics().live_tasks == 0u);
}

BOOST_AUTO_TEST_CASE(held_messages_leave_the_window_to_the_other_keys_of_a_durable) {
  held_messages_leave_the_window_to_the_others(0);
}

BOOST_AUTO_TEST_CASE(held_messages_leave_the_window_to_the_other_keys_of_a_partitioned_group) {
  held_messages_leave_the_window_to_the_others(3);
}

BOOST_AUTO_TEST_CASE(a_publish_the_server_refuses_fails_with_the_servers_words) {
  nats::embedded_server server;
  bus b(nats_bus_config(server.url()));
  // A plain publish may carry this many header bytes; a JetStream publish may not.
  const publish_options large_headers("k", {{"X-Large", std::string(70'000, 'h')}});
  std::string said;
  boost::system::error_code code;
  run(b.get_executor(), [&]() -> asio::awaitable<void> {
    try {
      co_await b.async_publish("refused", "x", large_headers);
    } catch (const boost::system::system_error& e) {
      code = e.code();
      said = e.what();
    }
  });
  BOOST_TEST(code.value() == 10097, code.category().name() << " " << code.value());
  BOOST_TEST(said.find("header size exceeds maximum allowed") != std::string::npos, said);
  BOOST_TEST(said.find("'refused'") != std::string::npos, said);
  b.close();
}

BOOST_AUTO_TEST_SUITE_END()
