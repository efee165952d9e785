// Groups on partitioned NATS topics (docs/nats.md, "Partitioned groups across processes"):
// members in processes of their own (tests/group_member.cpp) that join, close, pause and die
// mid-stream, against real nats-servers. What must hold through every move: every message
// handled at least once, per-key order in what each member saw, duplicates within the window
// of the member that fell away, and a takeover within the lease's bound.
#include <boost/test/unit_test.hpp>

#include "member_process.hpp"
#include "nats_test_config.hpp"
#include "seen_versions.hpp"
#include "stepped_stream.hpp"
#include "support.hpp"

#include <corobus/awaitables/nats/embedded_cluster.hpp>
#include <corobus/awaitables/nats/embedded_server.hpp>
#include <corobus/corobus.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace corobus;
using namespace corobus::test;

namespace {

using clock_type = std::chrono::steady_clock;

constexpr int partitions = 6;
constexpr auto lease_ttl = std::chrono::milliseconds(3000);
constexpr auto ack_wait = std::chrono::milliseconds(2000);  // tests/group_member.cpp's
constexpr std::size_t window = 60;                          // each member's max_in_flight

// How long a killed member's partitions may take to move: its lease lives up to the TTL after
// its last renewal, the others see it gone at their next look (every TTL/4, +10% jitter), and a
// partition with messages still unacknowledged waits one ack wait (plus 250 ms) for their
// redelivery, so that they come before newer ones of the same keys; a second for the pulls.
constexpr auto killed_takeover_bound = lease_ttl + lease_ttl * 11 / 40 + ack_wait + std::chrono::milliseconds(1250);

config publisher_config(const std::string& url, int replicas = 1) {
  auto cfg = nats_bus_config(url);
  cfg.nats.partitions = partitions;  // the publisher routes by key: it must know the partitioning
  cfg.nats.lease_ttl = lease_ttl;
  cfg.nats.replicas = replicas;
  return cfg;
}

std::unique_ptr<member_process> start_member(const std::string& url, const std::string& topic, int replicas = 1) {
  return std::make_unique<member_process>(
      url, topic, "workers", window,
      std::vector<std::string>{"--partitions", std::to_string(partitions), "--lease-ttl-ms",
                               std::to_string(lease_ttl.count()), "--replicas", std::to_string(replicas)});
}

int number_of(const handled_envelope& h) { return std::stoi(h.aggregate.substr(4)); }

// What all members handled: the union and each member's own view.
struct group_view {
  seen_union all;
  std::vector<seen_versions> each;

  explicit group_view(const std::vector<const member_process*>& members) : each(members.size()) {
    for (std::size_t m = 0; m < members.size(); ++m)
      for (const auto& h : members[m]->handled()) {
        each[m].add(number_of(h), h.version);
        all.add(number_of(h), h.version);
      }
  }
};

std::size_t unique_handled(const std::vector<const member_process*>& members) {
  return group_view(members).all.unique();
}

// The partitions `from` held at `since`, seen through their keys: the aggregates it started in
// the second before. How long after `since` one of `others` had started each of them: empty
// while one is not taken over yet.
std::optional<std::chrono::milliseconds> takeover_time(const member_process& from,
                                                       const std::vector<const member_process*>& others,
                                                       clock_type::time_point since) {
  std::set<int> held;
  for (const auto& h : from.handled())
    if (h.started > since - std::chrono::seconds(1) && h.started <= since) held.insert(number_of(h));
  std::map<int, clock_type::time_point> first_after;
  for (const auto* o : others)
    for (const auto& h : o->handled())
      if (h.started > since && held.contains(number_of(h))) {
        auto [it, added] = first_after.emplace(number_of(h), h.started);
        if (!added) it->second = std::min(it->second, h.started);
      }
  if (held.empty() || first_after.size() < held.size()) return std::nullopt;
  clock_type::time_point last = since;
  for (const auto& [aggregate, at] : first_after) last = std::max(last, at);
  return std::chrono::duration_cast<std::chrono::milliseconds>(last - since);
}

// Waits (the stream going on) until `from`'s partitions were taken over; returns how long that took.
std::chrono::milliseconds wait_for_takeover(stepped_stream& stream, const member_process& from,
                                            const std::vector<const member_process*>& others,
                                            clock_type::time_point since) {
  std::optional<std::chrono::milliseconds> took;
  BOOST_TEST_REQUIRE(stream.advance_until([&] { return (took = takeover_time(from, others, since)).has_value(); }));
  return *took;
}

// Streams on until each of `a` and `b` handled more than `n`.
void advance_until_both_handled(stepped_stream& stream, const member_process& a, const member_process& b,
                                std::size_t n) {
  BOOST_TEST_REQUIRE(stream.advance_until([&] { return a.handled_count() > n && b.handled_count() > n; }));
}

// Lets the rest of the stream go and waits until `members` handled all of it (and `extra`
// envelopes published besides).
void finish_stream(stepped_stream& stream, const std::vector<const member_process*>& members, std::size_t extra = 0,
                   std::chrono::seconds timeout = 60s) {
  stream.release_all();
  BOOST_TEST_REQUIRE(eventually([&] { return stream.finished(); }, timeout));
  BOOST_TEST_REQUIRE(eventually([&] { return unique_handled(members) == stream.total() + extra; }, timeout));
}

// The first few versions `member` saw for the first time after a higher one of the same
// aggregate, each with when both started (wall clock, to read beside the logs).
std::string describe_order_breaks(const member_process& member) {
  const auto wall_now = std::chrono::system_clock::now();
  const auto steady_now = clock_type::now();
  const auto wall = [&](clock_type::time_point t) {
    return fmt::format("{:%T}", std::chrono::time_point_cast<std::chrono::milliseconds>(wall_now - (steady_now - t)));
  };
  std::map<int, const handled_envelope*> highest;
  std::map<int, std::set<std::int64_t>> seen;
  std::string out;
  int described = 0;
  for (const auto& h : member.handled()) {
    const int a = number_of(h);
    const auto*& top = highest[a];
    if (seen[a].insert(h.version).second && top && h.version < top->version && described++ < 8)
      out += fmt::format("\n  {} v{} at {}, after v{} at {}", h.aggregate, h.version, wall(h.started), top->version,
                         wall(top->started));
    if (!top || h.version > top->version) top = &h;
  }
  return out;
}

void check_order_and_duplicates(group_view& view, const std::vector<const member_process*>& members,
                                std::size_t most_duplicates) {
  for (std::size_t m = 0; m < view.each.size(); ++m) {
    BOOST_TEST_INFO("member " << m);
    const auto breaks = view.each[m].first_seen_out_of_order();
    BOOST_TEST(breaks == 0u);
    if (breaks != 0) BOOST_TEST_MESSAGE("member " << m << " saw late:" << describe_order_breaks(*members[m]));
  }
  BOOST_TEST(view.all.duplicates() <= most_duplicates);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nats_group, *boost::unit_test::label("nats") * boost::unit_test::label("fault"))

BOOST_AUTO_TEST_CASE(two_member_processes_share_six_partitions_each_keeping_per_key_order) {
  nats::embedded_server server;
  bus publisher(publisher_config(server.url()));
  stepped_stream stream(publisher, "parted", 50, 200);
  auto first = start_member(server.url(), "parted"), second = start_member(server.url(), "parted");
  const std::vector<const member_process*> members{first.get(), second.get()};
  advance_until_both_handled(stream, *first, *second, 500);
  finish_stream(stream, members);
  BOOST_TEST(first->terminate() == 0);
  BOOST_TEST(second->terminate() == 0);
  group_view view(members);
  BOOST_TEST_MESSAGE("handled: " << view.each[0].size() << " and " << view.each[1].size() << ", duplicates "
                                 << view.all.duplicates());
  // Neither fell away: a join revokes cleanly (what was queued is given back, not handled).
  check_order_and_duplicates(view, members, 0);
  publisher.close();
}

BOOST_AUTO_TEST_CASE(a_third_member_joins_then_one_is_closed_then_one_is_killed_and_nothing_is_lost) {
  nats::embedded_server server;
  bus publisher(publisher_config(server.url()));
  stepped_stream stream(publisher, "moves", 50, 2000);
  auto first = start_member(server.url(), "moves"), second = start_member(server.url(), "moves");
  advance_until_both_handled(stream, *first, *second, 200);

  auto third = start_member(server.url(), "moves");  // joins mid-stream: each gives two partitions up
  BOOST_TEST_REQUIRE(stream.advance_until([&] { return third->handled_count() > 300; }));

  const auto closed_at = clock_type::now();
  BOOST_TEST(first->terminate() == 0);  // closes: drains, releases its leases, leaves
  const auto after_close = wait_for_takeover(stream, *first, {second.get(), third.get()}, closed_at);

  const auto second_before = second->handled_count();
  BOOST_TEST_REQUIRE(stream.advance_until([&] { return second->handled_count() > second_before + 300; }));
  const auto killed_at = clock_type::now();
  second->kill();  // no close: its leases expire, what it held unacknowledged comes again
  const auto after_kill = wait_for_takeover(stream, *second, {third.get()}, killed_at);

  const std::vector<const member_process*> members{first.get(), second.get(), third.get()};
  finish_stream(stream, members);
  BOOST_TEST(third->terminate() == 0);
  group_view view(members);
  BOOST_TEST_MESSAGE("handled: " << view.each[0].size() << ", " << view.each[1].size() << ", " << view.each[2].size()
                                 << "; duplicates " << view.all.duplicates() << "; taken over " << after_close.count()
                                 << " ms after the close, " << after_kill.count() << " ms after the kill");
  check_order_and_duplicates(view, members, window);  // what the killed one handled and had not acknowledged
  BOOST_TEST(after_kill <= killed_takeover_bound);
  BOOST_TEST(after_close < lease_ttl);  // released, not expired: the others' next look takes it
  publisher.close();
}

BOOST_AUTO_TEST_CASE(a_member_paused_past_its_lease_stops_before_the_takeover_and_handles_nothing_it_lost) {
  nats::embedded_server server;
  bus publisher(publisher_config(server.url()));
  stepped_stream stream(publisher, "paused", 50, 2000);
  auto first = start_member(server.url(), "paused"), second = start_member(server.url(), "paused");
  advance_until_both_handled(stream, *first, *second, 300);

  const auto paused_at = clock_type::now();
  first->pause();  // as if its link to the server were gone: its leases expire
  const auto took = wait_for_takeover(stream, *first, {second.get()}, paused_at);
  const auto resumed_at = clock_type::now();
  first->resume();  // past its fence: it must drop what it held, then join again
  BOOST_TEST_REQUIRE(stream.advance_until([&] {
    const auto lines = first->handled();
    return std::count_if(lines.begin(), lines.end(), [&](const auto& h) { return h.started > resumed_at; }) > 300;
  }));

  const std::vector<const member_process*> members{first.get(), second.get()};
  finish_stream(stream, members);
  BOOST_TEST(first->terminate() == 0);
  BOOST_TEST(second->terminate() == 0);

  // What the paused member started after the pause came from leases it took again, never from
  // the ones it lost: the second member handled none of it.
  std::set<std::pair<int, std::int64_t>> by_second;
  for (const auto& h : second->handled()) by_second.emplace(number_of(h), h.version);
  std::size_t stale = 0, after_pause = 0;
  for (const auto& h : first->handled())
    if (h.started > paused_at) {
      ++after_pause;
      stale += by_second.contains({number_of(h), h.version});
    }
  group_view view(members);
  BOOST_TEST_MESSAGE("taken over " << took.count() << " ms after the pause; the paused member handled " << after_pause
                                   << " after it, " << stale << " of them lost; duplicates " << view.all.duplicates());
  BOOST_TEST(stale == 0u);
  BOOST_TEST(after_pause > 0u);  // it came back into the group
  BOOST_TEST(took <= killed_takeover_bound);
  // Handlers running when it stopped finished when it went on: their messages were taken over
  // too (at most the window).
  check_order_and_duplicates(view, members, window);
  publisher.close();
}

BOOST_AUTO_TEST_CASE(two_members_of_a_group_share_a_partitioned_topic_and_each_keeps_per_key_order) {
  // Two buses are two members (each has a name of its own), as two processes would be.
  nats::embedded_server server;
  auto cfg = nats_bus_config(server.url());
  cfg.nats.partitions = 6;
  cfg.nats.lease_ttl = std::chrono::milliseconds(3000);
  constexpr int aggregates = 100, versions = 20;
  const auto threads_before = thread_count();
  const auto fds_before = descriptor_count();
  std::optional<bus> first_bus(std::in_place, cfg), second_bus(std::in_place, cfg);
  auto& first = *first_bus;
  auto& second = *second_bus;
  seen_union all;
  seen_versions seen_first, seen_second;
  const auto subscribe = [&](bus& b, seen_versions& seen) {
    run(b.get_executor(), [&]() -> asio::awaitable<void> {
      co_await b.async_subscribe_envelopes(
          "parted",
          [&](const envelope& e) -> asio::awaitable<void> {
            seen.add(e);
            all.add(e);
            co_return;
          },
          subscribe_options("workers"));
    });
  };
  subscribe(first, seen_first);
  subscribe(second, seen_second);
  // Paced over about 3 s, so the second member's join (at its first look) comes mid-stream and
  // the first member's revoke of half the partitions is part of what is checked.
  run(first.get_executor(), [&]() -> asio::awaitable<void> {
    for (int v = 1; v <= versions; ++v) {
      std::vector<envelope> round;
      for (int a = 0; a < aggregates; ++a)
        round.push_back(envelope::make("agg-" + std::to_string(a), "Placed", v, "{}"));
      co_await first.async_publish_envelopes("parted", std::move(round));
      co_await sleep_for(std::chrono::milliseconds(150));
    }
  });
  BOOST_TEST_REQUIRE(eventually([&] { return all.unique() == std::size_t{aggregates * versions}; }, 60s));
  BOOST_TEST(seen_first.first_seen_out_of_order() == 0u);
  BOOST_TEST(seen_second.first_seen_out_of_order() == 0u);
  BOOST_TEST(all.duplicates() <= cfg.nats.max_in_flight);
  BOOST_TEST_MESSAGE("first " << seen_first.size() << ", second " << seen_second.size() << ", duplicates "
                              << all.duplicates());
  BOOST_TEST(seen_first.size() > 0u);  // the partitions were shared
  BOOST_TEST(seen_second.size() > 0u);
  BOOST_TEST(first.metrics().rebalanced + second.metrics().rebalanced <= cfg.nats.max_in_flight);
  second.close();
  first.close();
  first_bus.reset();
  second_bus.reset();
  // Leases, pulls, timers and the key-value calls all end with the buses.
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
  BOOST_TEST(descriptor_count() == fds_before);
}

// The longest topics in the mix that grows most (each '_' is two bytes on JetStream), on a
// partitioned topic: the partitions' durables ("<group>_p<p>") and the
// group's key-value bucket are shortened within the server's limits, for the default group
// (whose name holds the topic) and a named one as long.
BOOST_AUTO_TEST_CASE(the_longest_topics_and_groups_work_on_a_partitioned_topic) {
  nats::embedded_server server;
  auto cfg = nats_bus_config(server.url());
  cfg.nats.partitions = 12;
  cfg.nats.lease_ttl = std::chrono::milliseconds(3000);
  const std::string topic = std::string(max_topic_length - 1, '_') + "a";
  const std::string group = std::string(max_topic_length, '-');
  bus b(cfg);
  inbox<envelope> by_default, by_named;
  constexpr int aggregates = 30;
  run(
      b.get_executor(),
      [&]() -> asio::awaitable<void> {
        co_await b.async_subscribe_envelopes(topic, by_default.collector());
        co_await b.async_subscribe_envelopes(topic, by_named.collector(), subscribe_options(group));
        for (int a = 0; a < aggregates; ++a)
          co_await b.async_publish_envelope(topic, envelope::make("agg-" + std::to_string(a), "Placed", 1, "{}"));
      },
      std::chrono::seconds(120));
  BOOST_TEST(eventually([&] { return by_default.size() == aggregates && by_named.size() == aggregates; }, 60s));
  b.close();
}

BOOST_AUTO_TEST_SUITE_END()

// Three nats-servers: one case at a time (the cluster label: see tests/discover_tests.cmake).
BOOST_AUTO_TEST_SUITE(nats_group_cluster, *boost::unit_test::label("nats") * boost::unit_test::label("fault") *
                                              boost::unit_test::label("cluster"))

BOOST_AUTO_TEST_CASE(a_node_killed_mid_stream_under_replicated_streams_and_buckets_loses_nothing) {
  nats::embedded_cluster cluster(3);
  bus publisher(publisher_config(cluster.urls(), 3));
  // The cluster elects its JetStream meta leader about a second after the nodes start: the
  // members start once the stream could be made.
  BOOST_TEST_REQUIRE(eventually(
      [&] {
        return error_of(publisher.get_executor(), [&] {
                 return publisher.async_publish_envelope("replicated", envelope::make("agg-999", "Changed", 1, "{}"));
               }) == boost::system::error_code{};
      },
      30s));
  stepped_stream stream(publisher, "replicated", 50, 1000);
  auto first = start_member(cluster.urls(), "replicated", 3), second = start_member(cluster.urls(), "replicated", 3);
  advance_until_both_handled(stream, *first, *second, 300);
  cluster.node(1).kill();  // kill -9: a third of the connections, and the leaders it had, move
  const auto before = first->handled_count() + second->handled_count();
  BOOST_TEST_REQUIRE(
      stream.advance_until([&] { return first->handled_count() + second->handled_count() > before + 2000; }));
  const std::vector<const member_process*> members{first.get(), second.get()};
  finish_stream(stream, members, 1, 90s);  // the readiness probe (agg-999) too
  BOOST_TEST(first->terminate() == 0);
  BOOST_TEST(second->terminate() == 0);
  group_view view(members);
  // Nothing lost (above), and per-key order kept in each view: what was on its way to a
  // member when its node died comes again an ack wait later, and the member's pulls wait for
  // it (nats_group_consumer::settle). Each member may have given up what it held (its window)
  // when its leases could not be renewed through the election.
  check_order_and_duplicates(view, members, 2 * window);
  BOOST_TEST_MESSAGE("handled: " << view.each[0].size() << " and " << view.each[1].size() << "; duplicates "
                                 << view.all.duplicates() << "; publish retries " << stream.publish_retries());
  publisher.close();
}

BOOST_AUTO_TEST_SUITE_END()
