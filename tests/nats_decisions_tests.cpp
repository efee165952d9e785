// The NATS consumer's decisions as pure state, without a server.
#include <boost/test/unit_test.hpp>

#include <corobus/awaitables/nats/pull_pending.hpp>
#include "backends/nats/stream_names.hpp"

#include <set>
#include <string>

using corobus::nats::pull_pending;

BOOST_AUTO_TEST_SUITE(nats_decisions, *boost::unit_test::label("unit"))

BOOST_AUTO_TEST_CASE(a_pull_asks_for_the_batch_then_for_the_deficit_once_pending_falls_to_the_threshold) {
  pull_pending p(500, 250);
  BOOST_TEST(p.to_request(10'000) == 500);  // nothing pending: the whole batch
  p.requested(500);
  BOOST_TEST(p.to_request(10'000) == 0);  // enough is asked for
  for (int i = 0; i < 249; ++i) p.delivered();
  BOOST_TEST(p.pending() == 251);
  BOOST_TEST(p.to_request(10'000) == 0);  // above the threshold still
  p.delivered();
  BOOST_TEST(p.to_request(10'000) == 250);  // the deficit, not a whole batch
  p.requested(250);
  BOOST_TEST(p.pending() == 500);
}

BOOST_AUTO_TEST_CASE(a_pull_never_asks_for_more_than_the_in_flight_window_has_room_for) {
  pull_pending p(500, 250);
  BOOST_TEST(p.to_request(120) == 120);
  BOOST_TEST(p.to_request(0) == 0);  // the window is full: no pull at all
  p.requested(120);
  for (int i = 0; i < 120; ++i) p.delivered();
  BOOST_TEST(p.to_request(-5) == 0);
}

BOOST_AUTO_TEST_CASE(an_expired_request_and_a_reset_take_back_what_will_not_come) {
  pull_pending p(100, 50);
  p.requested(100);
  for (int i = 0; i < 30; ++i) p.delivered();
  p.expired(70);  // a 408: the rest of that request will not come
  BOOST_TEST(p.pending() == 0);
  BOOST_TEST(p.to_request(1000) == 100);
  p.requested(100);
  p.reset();  // a reconnect: the server forgot it
  BOOST_TEST(p.pending() == 0);
  p.expired(10);
  p.delivered();  // late ones after a reset never go below nothing
  BOOST_TEST(p.pending() == 0);
  BOOST_TEST(pull_pending(1, 5).to_request(10) == 1);  // a threshold at or over the batch is capped
}

BOOST_AUTO_TEST_CASE(topic_names_map_to_stream_names_one_to_one) {
  using corobus::detail::jetstream_name;
  BOOST_TEST(jetstream_name("orders") == "orders");
  BOOST_TEST(jetstream_name("orders.created") == "orders_created");
  BOOST_TEST(jetstream_name("orders.dlq") == "orders_dlq");
  BOOST_TEST(jetstream_name("order_items") == "order-_items");
  BOOST_TEST(jetstream_name("a-b") == "a--b");
  // Every name of up to four characters of the topic alphabet's troublemakers gets a name of
  // its own, and none holds a '.'.
  const std::string alphabet = "a._-";
  std::set<std::string> names;
  std::size_t topics = 0;
  std::string t;
  const auto visit = [&](auto&& self, std::size_t left) -> void {
    if (!t.empty()) {
      ++topics;
      const auto n = jetstream_name(t);
      BOOST_TEST_REQUIRE(n.find('.') == std::string::npos);
      names.insert(n);
    }
    if (left == 0) return;
    for (const char c : alphabet) {
      t.push_back(c);
      self(self, left - 1);
      t.pop_back();
    }
  };
  visit(visit, 4);
  BOOST_TEST(names.size() == topics);  // 340 topics, 340 names
}

BOOST_AUTO_TEST_SUITE_END()
