// The Kafka backend's decisions as pure state, without a cluster: the commit position of a
// partition (partition_progress) and the in-flight window (fetch_window).
#include <boost/test/unit_test.hpp>

#include "backends/kafka/fetch_window.hpp"
#include "backends/kafka/partition_progress.hpp"
#include "core/revoke_sequence.hpp"

#include <thread>
#include <vector>

using corobus::detail::fetch_window;
using corobus::detail::partition_progress;
using corobus::detail::revoke_sequence;
using namespace std::chrono_literals;

namespace {

using next = fetch_window::plan::next;

fetch_window::view uncommitted(std::size_t n) {
  fetch_window::view v;
  v.uncommitted = n;
  return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kafka_decisions, *boost::unit_test::label("unit"))

BOOST_AUTO_TEST_CASE(the_commit_position_is_the_first_offset_not_yet_done) {
  partition_progress p;
  BOOST_TEST(!p.take_commit_position());  // nothing started
  for (std::int64_t o = 10; o < 15; ++o) p.started(o);
  BOOST_TEST(p.in_flight() == 5u);
  p.done(12);  // out of order: 10 and 11 are still running
  p.done(13);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(10)));
  BOOST_TEST(!p.take_commit_position());  // nothing moved since
  p.done(10);
  p.done(11);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(14)));  // 14 still running
  p.done(14);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(15)));  // all started are done
  BOOST_TEST(p.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(offsets_with_gaps_between_them_are_tracked_as_well) {
  partition_progress p;  // a compacted partition: offsets 2-4 and 6-8 are gone
  for (std::int64_t o : {0, 1, 5, 9, 10}) p.started(o);
  p.done(7);  // never started: ignored
  p.done(9);
  p.done(0);
  BOOST_TEST(p.in_flight() == 3u);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(1)));
  p.done(1);
  p.done(5);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(10)));
  p.done(10);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(11)));
  BOOST_TEST(p.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(uncommitted_counts_what_no_stored_commit_covers_done_or_not) {
  partition_progress p;
  for (std::int64_t o = 0; o < 6; ++o) p.started(o);
  p.done(0);
  p.done(1);
  p.done(3);
  BOOST_TEST(p.uncommitted() == 6u);  // done, but not committed: a crash delivers them again
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(2)));
  BOOST_TEST(p.uncommitted() == 6u);  // handed out, not yet stored
  p.stored(2);
  BOOST_TEST(p.uncommitted() == 4u);  // 2 (running), 3 (done above it), 4, 5
  p.done(2);
  p.done(4);
  p.done(5);
  p.started(6);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(6)));
  p.refused(6);  // say, the group is rebalancing
  BOOST_TEST(p.uncommitted() == 5u);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(6)));  // offered again
  p.stored(6);
  BOOST_TEST(p.uncommitted() == 1u);
}

BOOST_AUTO_TEST_CASE(a_released_offset_leaves_the_in_flight_count_but_holds_the_watermark) {
  partition_progress p;
  for (std::int64_t o = 0; o < 4; ++o) p.started(o);
  p.released(1);  // revoked before its handler ran: the next owner delivers it
  p.done(0);
  p.done(2);
  p.done(3);
  BOOST_TEST(p.in_flight() == 0u);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(1)));
  p.released(1);  // twice is once
  p.done(1);      // a late finish still counts
  BOOST_TEST(p.in_flight() == 0u);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(4)));
}

BOOST_AUTO_TEST_CASE(a_held_offset_is_not_running_and_holds_the_watermark_until_it_ends) {
  partition_progress p;
  for (std::int64_t o = 0; o < 4; ++o) p.started(o);
  p.held(1);  // its dead letter is refused for now
  p.held(1);  // twice is once
  p.done(0);
  p.done(2);
  p.done(3);
  BOOST_TEST(p.in_flight() == 0u);  // a revoke does not wait for it
  BOOST_TEST(p.held_count() == 1u);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(1)));
  p.held(7);  // never started: ignored
  BOOST_TEST(p.held_count() == 1u);
  BOOST_TEST(p.done(1));   // written at last: the hold ends
  BOOST_TEST(!p.done(1));  // once
  BOOST_TEST(p.held_count() == 0u);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(4)));
  p.started(4);
  p.held(4);
  BOOST_TEST(p.released(4));  // its partition moved while it was held
  BOOST_TEST(p.held_count() == 0u);
  BOOST_TEST(p.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(a_partition_resumed_where_its_work_stopped_offers_that_position_for_commit) {
  partition_progress before;
  BOOST_TEST(!before.position());
  for (std::int64_t o = 40; o < 45; ++o) before.started(o);
  before.done(40);
  before.done(41);
  before.released(42);  // revoked before its lane reached it
  before.done(43);
  BOOST_TEST((before.position() == std::optional<std::int64_t>(42)));
  BOOST_TEST((before.position() == std::optional<std::int64_t>(42)), "a look hands nothing out");
  partition_progress after;  // the same partition, assigned again
  after.resume_at(*before.position());
  BOOST_TEST((after.take_commit_position() == std::optional<std::int64_t>(42)));  // stored in the new generation
  after.started(42);
  after.done(42);
  BOOST_TEST((after.take_commit_position() == std::optional<std::int64_t>(43)));
}

BOOST_AUTO_TEST_CASE(the_commit_position_holds_under_concurrent_completion) {
  partition_progress p;
  constexpr int count = 20000;
  for (int o = 0; o < count; ++o) p.started(o);
  std::vector<std::thread> finishers;
  for (int t = 0; t < 4; ++t)
    finishers.emplace_back([&p, t] {
      for (int o = count - 1 - t; o >= 0; o -= 4) p.done(o);  // last first: worst order
    });
  for (auto& f : finishers) f.join();
  BOOST_TEST(p.in_flight() == 0u);
  BOOST_TEST((p.take_commit_position() == std::optional<std::int64_t>(count)));
}

BOOST_AUTO_TEST_CASE(a_window_with_room_fetches_and_commits_early_from_half_full) {
  const fetch_window w(100);
  auto p = w.decide(uncommitted(10));
  BOOST_TEST((p.then == next::fetch));
  BOOST_TEST(!p.commit);
  p = w.decide(uncommitted(50));
  BOOST_TEST((p.then == next::fetch));
  BOOST_TEST(p.commit);  // half: commit now, not at the next interval
  BOOST_TEST(w.room(10) == 90u);
  BOOST_TEST(w.room(100) == 1u);  // full: one record, so that a rebalance is still seen
  BOOST_TEST(fetch_window(50'000).room(0) == fetch_window::max_batch);
}

BOOST_AUTO_TEST_CASE(a_full_window_is_waited_out_then_paused_and_resumed_at_half) {
  const fetch_window w(100);
  auto v = uncommitted(100);
  v.waited = 300ms;
  auto p = w.decide(v);
  BOOST_TEST((p.then == next::wait));
  BOOST_TEST(p.commit);
  BOOST_TEST((p.wait_at_most == fetch_window::hold_before_pause - 300ms));  // no longer than the hold
  v.waited = fetch_window::hold_before_pause;
  BOOST_TEST((w.decide(v).then == next::pause));
  v.paused = true;
  p = w.decide(v);
  BOOST_TEST((p.then == next::wait));
  BOOST_TEST((p.wait_at_most == fetch_window::duration::max()));  // until something changes
  v.uncommitted = 51;
  BOOST_TEST((w.decide(v).then == next::wait));
  v.uncommitted = 50;
  BOOST_TEST((w.decide(v).then == next::resume));
}

BOOST_AUTO_TEST_CASE(a_pending_rebalance_pauses_at_once_until_it_arrives_or_its_wait_ends) {
  const fetch_window w(100);
  auto v = uncommitted(3);
  v.rebalance_pending = true;
  v.pending_for = 2s;
  auto p = w.decide(v);
  BOOST_TEST((p.then == next::pause));
  BOOST_TEST(!p.forget_rebalance);
  v.paused = true;
  p = w.decide(v);
  BOOST_TEST((p.then == next::wait));  // not resumed while the rebalance is due
  BOOST_TEST((p.wait_at_most == fetch_window::rebalance_wait - 2s));
  v.pending_for = fetch_window::rebalance_wait;
  p = w.decide(v);
  BOOST_TEST(p.forget_rebalance);  // a stale refusal holds nothing for ever
  BOOST_TEST((p.then == next::resume));
}

BOOST_AUTO_TEST_CASE(a_revoke_waits_for_running_handlers_until_its_timeout_then_interrupts_them) {
  const auto start = revoke_sequence::clock::now();
  const revoke_sequence r(start, 500ms);
  auto s = r.decide(3, start + 10ms, false);
  BOOST_TEST((s.then == revoke_sequence::step::next::wait));
  BOOST_TEST((s.wait_until == start + 500ms));
  s = r.decide(0, start + 20ms, false);  // the last one ended: go on at once
  BOOST_TEST((s.then == revoke_sequence::step::next::finish));
  BOOST_TEST(!s.interrupt);
  s = r.decide(1, start + 500ms, false);  // the timeout: the one left is interrupted
  BOOST_TEST((s.then == revoke_sequence::step::next::finish));
  BOOST_TEST(s.interrupt);
}

BOOST_AUTO_TEST_CASE(a_revoke_the_bus_closes_during_finishes_at_once) {
  const auto start = revoke_sequence::clock::now();
  const revoke_sequence r(start, std::chrono::minutes(1));
  const auto s = r.decide(2, start + 1ms, true);
  BOOST_TEST((s.then == revoke_sequence::step::next::finish));  // never left unapplied
  BOOST_TEST(s.interrupt);
}

BOOST_AUTO_TEST_SUITE_END()
