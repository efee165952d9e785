// The NATS consumer's decisions as pure state, without a server.
#include <boost/test/unit_test.hpp>

#include <corobus/awaitables/nats/pull_pending.hpp>
#include "backends/nats/nats_delivery.hpp"
#include "backends/nats/partition_assignment.hpp"
#include "backends/nats/stream_names.hpp"
#include "core/name_digest.hpp"

#include <corobus/eventbus/topic.hpp>

#include <algorithm>
#include <map>

#include <set>
#include <string>
#include <vector>

using corobus::nats::pull_pending;
namespace d = corobus::detail;

namespace {

// Calls f with every string of 1 to `max_length` characters of `alphabet`.
template <class F>
void for_each_string(std::string_view alphabet, std::size_t max_length, F f) {
  std::string t;
  const auto visit = [&](auto&& self, std::size_t left) -> void {
    if (!t.empty()) f(t);
    if (left == 0) return;
    for (const char c : alphabet) {
      t.push_back(c);
      self(self, left - 1);
      t.pop_back();
    }
  };
  visit(visit, max_length);
}

std::vector<std::string> named(int n, const std::string& prefix = "member-") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

std::size_t moved(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::size_t n = 0;
  for (std::size_t p = 0; p < a.size(); ++p) n += a[p] != b[p];
  return n;
}

}  // namespace

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

BOOST_AUTO_TEST_CASE(a_deliverys_reply_subject_gives_its_metadata_in_both_of_the_servers_forms) {
  using corobus::nats::parse_ack_subject;
  const auto old_form = parse_ack_subject("$JS.ACK.ORDERS.workers.3.1042.17.1700000000123456789.5");
  BOOST_TEST_REQUIRE(old_form.has_value());
  BOOST_TEST(old_form->stream == "ORDERS");
  BOOST_TEST(old_form->consumer == "workers");
  BOOST_TEST(old_form->delivered == 3u);
  BOOST_TEST(old_form->stream_sequence == 1042u);
  BOOST_TEST(old_form->consumer_sequence == 17u);
  BOOST_TEST(old_form->timestamp_ns == 1700000000123456789);
  BOOST_TEST(old_form->pending == 5u);
  // With a domain and an account hash after ACK, and a random token at the end.
  const auto new_form = parse_ack_subject("$JS.ACK._.ACCHASH.ORDERS.workers.1.7.7.1700000000000000000.0.r4nd");
  BOOST_TEST_REQUIRE(new_form.has_value());
  BOOST_TEST(new_form->stream == "ORDERS");
  BOOST_TEST(new_form->stream_sequence == 7u);
  BOOST_TEST(!parse_ack_subject("_INBOX.abc.def"));  // a plain message's reply
  BOOST_TEST(!parse_ack_subject("$JS.ACK.ORDERS.workers.x.1.1.1.1"));
  BOOST_TEST(!parse_ack_subject("$JS.ACK.ORDERS.workers.1.1.1.1"));  // a token short
  BOOST_TEST(!parse_ack_subject(""));
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
  std::set<std::string> names;
  std::size_t topics = 0;
  for_each_string("a._-", 4, [&](const std::string& t) {
    ++topics;
    const auto n = jetstream_name(t);
    BOOST_TEST_REQUIRE(n.find('.') == std::string::npos);
    names.insert(n);
  });
  BOOST_TEST(names.size() == topics);  // 340 topics, 340 names
}

// The server's limits (255 bytes for streams and durables, 252 for a bucket) hold for every
// topic and group, names that fit are as they always were, and shortened names stay one to
// one: among themselves, and against every escaped name.
BOOST_AUTO_TEST_CASE(long_names_are_shortened_within_the_servers_limits_one_to_one) {
  using corobus::detail::jetstream_name;
  const auto only_name_characters = [](const std::string& n) {
    return n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == std::string::npos;
  };
  // An escaped name has '-' only before '-' or '_'; a shortened one has its marker.
  const auto escaped = [](const std::string& n) {
    for (std::size_t i = 0; i < n.size(); ++i)
      if (n[i] == '-' && (++i == n.size() || (n[i] != '-' && n[i] != '_'))) return false;
    return true;
  };
  BOOST_TEST(jetstream_name(std::string(255, 'a')) == std::string(255, 'a'));  // fits: as it was
  BOOST_TEST(d::partition_durable_name("workers", 3) == "workers_p3");
  BOOST_TEST(d::group_bucket_name("workers") == "corobus-group-workers");
  // Pinned: brokers keep these names, so the rule must never drift.
  BOOST_TEST(corobus::detail::name_digest("orders") == "j3hnnwva2fofrg2hwvpcxb6xqy");
  const auto worst = std::string(249, '_');  // escapes to 498 bytes
  BOOST_TEST(jetstream_name(worst).size() == 255u);
  std::string readable;
  for (int i = 0; i < 114; ++i) readable += "-_";  // as many whole codes as fit before the marker
  BOOST_TEST(jetstream_name(worst) == readable + "-" + corobus::detail::name_digest(worst));

  // The worst topics and default groups, every partition and the bucket: within the limits,
  // of name characters only, all distinct.
  std::vector<std::string> topics;
  for (const std::string fill : {"_", "-", "a", "-_", "_.", "a-", "._-a"})
    for (std::size_t length = 240; length <= corobus::max_topic_length; ++length) {
      std::string t;
      while (t.size() < length) t += fill;
      t.resize(length);
      if (t.front() == '.') t.front() = 'x';
      if (t.back() == '.') t.back() = 'y';
      for (std::size_t i = 1; i < t.size(); ++i)
        if (t[i] == '.' && t[i - 1] == '.') t[i] = 'z';
      BOOST_TEST_REQUIRE(!corobus::topic_problem(t));
      topics.push_back(t);
    }
  std::set<std::string> streams, durables, buckets;
  for (const auto& t : topics) {
    for (const auto& name : {t, corobus::dead_letter_topic(t)}) {
      BOOST_TEST_REQUIRE(!corobus::topic_problem(name), name);
      const auto stream = jetstream_name(name);
      BOOST_TEST_REQUIRE(stream.size() <= 255u);
      BOOST_TEST_REQUIRE(only_name_characters(stream));
      BOOST_TEST_REQUIRE(escaped(stream) == (stream == jetstream_name(name, 10'000)));
      streams.insert(stream);
    }
    const auto group = "corobus." + t + ".18446744073709551615";  // a default group's longest form
    durables.insert(jetstream_name(group));
    for (int p : {0, 9, 10, 99, 100, 999, 1000, 1023}) {
      const auto durable = d::partition_durable_name(group, p);
      BOOST_TEST_REQUIRE(durable.size() <= 255u);
      BOOST_TEST_REQUIRE(only_name_characters(durable));
      durables.insert(durable);
    }
    const auto bucket = d::group_bucket_name(group);
    BOOST_TEST_REQUIRE(bucket.size() <= 252u);
    buckets.insert(bucket);
  }
  BOOST_TEST(streams.size() == 2 * topics.size());
  BOOST_TEST(durables.size() == 9 * topics.size());
  BOOST_TEST(buckets.size() == topics.size());

  // At a small budget, every name of up to 16 characters of '_' and '-' (each escapes to two
  // bytes): 131,070 names, the 98,304 longer than 14 shortened, and no two share a name.
  std::set<std::string> names;
  std::size_t count = 0, shortened = 0;
  for_each_string("_-", 16, [&](const std::string& t) {
    ++count;
    const auto n = jetstream_name(t, 29);
    BOOST_TEST_REQUIRE(n.size() <= 29u);
    if (!escaped(n)) ++shortened;
    names.insert(n);
  });
  BOOST_TEST(names.size() == count);
  BOOST_TEST(shortened == 98'304u);
}

BOOST_AUTO_TEST_CASE(a_key_goes_to_the_partition_the_servers_partition_mapping_gives) {
  // FNV-1a 32 ("a" is 0xe40c292c), modulo the partitions, as nats-server's partition(n, token).
  BOOST_TEST(d::partition_of("a", 6) == static_cast<int>(0xe40c292cu % 6));
  BOOST_TEST(d::partition_of("agg-17", 1) == 0);
  for (const auto* key : {"agg-1", "agg-2", "order:42"}) BOOST_TEST(d::partition_of(key, 6) == d::partition_of(key, 6));
}

BOOST_AUTO_TEST_CASE(every_member_computes_the_same_owners_from_the_same_members_in_any_order) {
  auto members = named(3);
  const auto owners = d::assign_partitions(6, members);
  std::reverse(members.begin(), members.end());
  members.push_back("member-1");  // seen twice: counts once
  BOOST_TEST(d::assign_partitions(6, members) == owners);
  std::map<std::string, int> load;
  for (const auto& o : owners) ++load[o];
  BOOST_TEST(load.size() == 3u);
  for (const auto& [m, n] : load) BOOST_TEST(n == 2);
  BOOST_TEST(d::assign_partitions(6, {}) == std::vector<std::string>(6));
  BOOST_TEST(d::owned_by(d::assign_partitions(6, {"only"}), "only").size() == 6u);
}

BOOST_AUTO_TEST_CASE(a_join_or_a_leave_moves_about_partitions_over_members) {
  // Over many member sets and partition counts: no member holds more than ceil(N / members),
  // and on average a join (or, read backwards, a leave) moves not much more than the N / members
  // it must move. Single joins can cascade (bounded load): the worst is asserted loosely.
  double moves = 0, ideal = 0;
  for (int n : {6, 12, 32, 100})
    for (int m = 1; m < 8; ++m)
      for (int set = 0; set < 20; ++set) {
        auto before = named(m, "s" + std::to_string(set) + "-");
        auto after = before;
        after.push_back("joiner-" + std::to_string(set));
        const auto a = d::assign_partitions(n, before), b = d::assign_partitions(n, after);
        const auto cap = (n + m) / (m + 1);  // ceil(n / (m + 1))
        BOOST_TEST(moved(a, b) <= 3u * static_cast<std::size_t>(cap) + 2);
        moves += static_cast<double>(moved(a, b));
        ideal += static_cast<double>(n) / (m + 1);
        std::map<std::string, int> load;
        for (const auto& o : b) ++load[o];
        for (const auto& [member, held] : load) BOOST_TEST(held <= cap);
      }
  BOOST_TEST_MESSAGE("moved " << moves << " partitions where the ideal is " << ideal);
  BOOST_TEST(moves <= 1.25 * ideal);
}

BOOST_AUTO_TEST_CASE(a_lease_is_renewed_twice_before_its_fence_and_pulls_end_before_the_margin) {
  const d::lease_timing t(std::chrono::milliseconds(3000), std::chrono::milliseconds(10000));
  BOOST_TEST(t.renew_every.count() == 750);
  BOOST_TEST(t.fence_after.count() == 2000);
  BOOST_TEST(t.pull_expires.count() == 500);
  BOOST_TEST(t.pull_expires < t.ttl - t.fence_after);
  BOOST_TEST(2 * t.renew_every < t.fence_after);
}

BOOST_AUTO_TEST_CASE(a_member_acquires_what_it_wants_and_revokes_what_it_no_longer_does) {
  const auto moves = d::plan_moves({0, 1, 2}, {1, 4}, {2});
  BOOST_TEST(moves.acquire == std::vector<int>{0});  // 1 is held, 2 still drains
  BOOST_TEST(moves.revoke == std::vector<int>{4});
}

BOOST_AUTO_TEST_CASE(a_passed_fence_stays_though_a_late_renewal_moves_it_on) {
  using clock = std::chrono::steady_clock;
  d::ack_window window(nullptr, 10, 0, "fence test");
  BOOST_TEST(!window.revoked());  // no lease: no fence
  window.set_fence(clock::now() + std::chrono::hours(1));
  BOOST_TEST(!window.fenced());
  window.set_fence(clock::now() + std::chrono::hours(2));  // renewed in time: moved on
  BOOST_TEST(!window.fenced());
  window.set_fence(clock::now() - std::chrono::milliseconds(1));
  BOOST_TEST(window.fenced());
  // What came meanwhile was held back: the owner gives the partition up, never resumes it.
  window.set_fence(clock::now() + std::chrono::hours(1));
  BOOST_TEST(window.fenced());
  BOOST_TEST(window.revoked());
}

BOOST_AUTO_TEST_CASE(a_held_message_gives_its_window_slot_back_and_takes_one_of_max_held) {
  // No connection: what the window counts and lets be pulled, not what it sends.
  corobus::striped_counter given_back;
  auto window = std::make_shared<d::ack_window>(nullptr, 10, 3, "held test", &given_back);
  std::vector<std::shared_ptr<d::nats_delivery>> open;
  const auto pull = [&](int n) {
    for (int i = 0; i < n; ++i) {
      natsMsg* raw = nullptr;
      const auto reply = "$JS.ACK.orders.g.1." + std::to_string(open.size() + 1) + ".1.0.0";
      BOOST_TEST_REQUIRE(natsMsg_Create(&raw, "orders", reply.c_str(), "x", 1) == NATS_OK);
      open.push_back(std::make_shared<d::nats_delivery>(
          window, corobus::nats::jetstream_message(corobus::nats::msg_ptr(raw)), "orders", -1));
      window->opened(*open.back());
    }
  };
  pull(10);
  BOOST_TEST(window->room() == 0);
  for (int i = 0; i < 3; ++i) open[i]->held(open[i]->msg);
  BOOST_TEST(window->in_flight() == 7u);
  BOOST_TEST(window->held() == 3u);
  BOOST_TEST(window->room() == 3);  // the other keys go on
  pull(3);
  BOOST_TEST(window->room() == 0);
  open[3]->held(open[3]->msg);  // beyond max_held: the server's max_ack_pending is full
  BOOST_TEST(window->in_flight() == 9u);
  BOOST_TEST(window->held() == 4u);
  BOOST_TEST(window->room() == 0);
  open[3]->held(open[3]->msg);  // once
  BOOST_TEST(window->held() == 4u);
  open[0]->done(open[0]->msg);  // a held one's letter was written
  open[1]->released(open[1]->msg);
  BOOST_TEST(window->held() == 2u);
  BOOST_TEST(window->room() == 1);
  BOOST_TEST(given_back.load() == 1u);              // the one released
  BOOST_TEST(window->give_back_in_order() == 11u);  // the open ones and the held ones
  BOOST_TEST(given_back.load() == 12u);
  BOOST_TEST(window->in_flight() == 0u);
  BOOST_TEST(window->held() == 0u);
  BOOST_TEST(window->room() == 10);
}

BOOST_AUTO_TEST_SUITE_END()
