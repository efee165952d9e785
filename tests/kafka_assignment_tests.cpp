// The Kafka group member's assignment as pure state (assignment_state): unit cases, then a
// model test that runs random rebalances, holds, window changes, commits and their answers
// against a model of librdkafka and the group, checking the invariants after every event.
#include <boost/test/unit_test.hpp>

#include "backends/kafka/assignment_state.hpp"
#include "backends/kafka/partition_progress.hpp"
#include "model_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <vector>

using corobus::detail::assignment_state;
using corobus::detail::partition_progress;
using partition_id = assignment_state::partition_id;
using ids = std::vector<partition_id>;

namespace {

const partition_id p0{"t", 0};
const partition_id p1{"t", 1};
const assignment_state::time_point t0{};

}  // namespace

BOOST_AUTO_TEST_SUITE(kafka_assignment, *boost::unit_test::label("unit"))

BOOST_AUTO_TEST_CASE(an_assignment_starts_from_the_groups_commit_or_where_this_member_gave_it_up) {
  assignment_state s;
  const auto first = s.assigned({p0, p1});
  BOOST_TEST(first.start.size() == 2u);
  BOOST_TEST(!first.start[0].offset);  // the group's committed offset
  BOOST_TEST(first.pause.empty());
  s.revoked({{p0, 42}, {p1, std::nullopt}});
  BOOST_TEST(!s.owns(p0));
  const auto again = s.assigned({p0, p1});
  BOOST_TEST((again.start[0].offset == std::optional<std::int64_t>(42)));  // its revoke's commit may be refused
  BOOST_TEST(!again.start[1].offset);                                      // nothing was started there
  s.revoked({{p0, 50}});
  s.assigned({});
  BOOST_TEST(!s.assigned({p0}).start[0].offset);  // given up two rebalances ago: the group's commit
}

BOOST_AUTO_TEST_CASE(a_partition_pauses_while_it_holds_a_message_or_the_window_is_full) {
  assignment_state s;
  s.assigned({p0, p1});
  BOOST_TEST((s.holding(p0, true).pause == ids{p0}));
  BOOST_TEST(s.holding(p0, true).pause.empty());    // nothing changed
  BOOST_TEST((s.window_full().pause == ids{p1}));   // p0 is paused already
  BOOST_TEST(s.holding(p0, false).resume.empty());  // the window still holds it
  BOOST_TEST(s.holding(p1, true).pause.empty());
  BOOST_TEST((s.window_open().resume == ids{p0}));  // p1 still holds a message
  BOOST_TEST((s.holding(p1, false).resume == ids{p1}));
}

BOOST_AUTO_TEST_CASE(a_paused_partition_is_resumed_as_it_is_revoked) {
  assignment_state s;  // librdkafka keeps the pause across unassign and assign
  s.assigned({p0, p1});
  s.holding(p0, true);
  BOOST_TEST((s.revoked({{p0, 3}, {p1, 4}}).resume == ids{p0}));
  s.assigned({p0});
  s.window_full();
  BOOST_TEST((s.revoked({{p0, 3}}).resume == ids{p0}));
  BOOST_TEST((s.assigned({p1}).pause == ids{p1}));  // the window is still full
}

BOOST_AUTO_TEST_CASE(only_a_refusal_of_this_generation_announces_a_rebalance) {
  assignment_state s;
  s.assigned({p0});
  const auto revoke_commit = s.generation();
  s.revoked({{p0, 1}});
  s.assigned({p0});
  s.commit_refused_for_rebalance(revoke_commit, t0);  // read after the assignment: that rebalance came
  BOOST_TEST(!s.rebalance_pending_since());
  s.commit_refused_for_rebalance(s.generation(), t0);
  BOOST_TEST((s.rebalance_pending_since() == std::optional(t0)));
  s.rebalance_announced(t0 + std::chrono::seconds(1));  // the first announcement counts
  BOOST_TEST((s.rebalance_pending_since() == std::optional(t0)));
  s.revoked({{p0, 1}});
  BOOST_TEST(!s.rebalance_pending_since());
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// One member of a group on one topic of three partitions, with librdkafka and the group
// coordinator modelled as far as the assignment state depends on them:
// - librdkafka keeps a partition's pause across unassign and assign;
// - the group stores a commit of the current generation, or refuses it (REBALANCE_IN_PROGRESS)
//   when a rebalance is announced, and a commit of an older generation is refused; answers
//   may come after later rebalances.
// The member's own work is partition_progress per owned partition. A partition given up and
// assigned again in the next rebalance was nobody else's meanwhile; one that comes back later
// may have been another member's, whose work this member may see again (at least once).
class assignment_model {
 public:
  std::string step(std::mt19937& random) {
    const auto pick = [&](const auto& from) -> const auto& {
      return *std::next(from.begin(), static_cast<long>(random() % from.size()));
    };
    switch (random() % 12) {
      case 0: {  // a rebalance assigns some partitions this member does not own
        ids wanted;
        for (std::int32_t p = 0; p < partitions; ++p)
          if (!owned_.contains({"t", p}) && random() % 2 == 0) wanted.push_back({"t", p});
        if (wanted.empty()) break;
        return assign(wanted);
      }
      case 1: {  // a rebalance revokes some of them
        std::vector<partition_id> revoked;
        for (const auto& [p, work] : owned_)
          if (random() % 2 == 0) revoked.push_back(p);
        if (revoked.empty()) break;
        return revoke(revoked, random);
      }
      case 2:
      case 3:  // librdkafka hands out the next record of a partition that is not paused
        if (const auto fetchable = not_paused(); !fetchable.empty()) return fetch(pick(fetchable));
        break;
      case 4:
      case 5:  // a handler ends
        if (const auto running = all_running(); !running.empty()) {
          const auto [p, offset] = pick(running);
          finish(p, offset);
          return fmt::format("done {}@{}", p.partition, offset);
        }
        break;
      case 6:  // a handler fails and its dead letter cannot be written: held
        if (const auto running = all_running(); !running.empty()) {
          const auto [p, offset] = pick(running);
          owned_.at(p).progress->held(offset);
          owned_.at(p).running.erase(offset);
          owned_.at(p).held.insert(offset);
          act(state_.holding(p, true));
          return fmt::format("hold {}@{}", p.partition, offset);
        }
        break;
      case 7:  // a held message's dead letter is written at last
        if (const auto held = all_held(); !held.empty()) {
          const auto [p, offset] = pick(held);
          auto& work = owned_.at(p);
          work.held.erase(offset);
          work.progress->done(offset);
          act(state_.holding(p, work.progress->held_count() != 0));
          return fmt::format("hold of {}@{} ends", p.partition, offset);
        }
        break;
      case 8:
        act(random() % 2 == 0 ? state_.window_full() : state_.window_open());
        return state_.window_closed() ? "window full" : "window open";
      case 9:  // the periodic commit
        if (!owned_.empty()) return commit(pick(owned_).first);
        break;
      case 10:  // the broker answers a commit
        if (!in_flight_.empty()) return answer(random() % in_flight_.size());
        break;
      case 11:  // the coordinator begins a rebalance; librdkafka reports it to poll()
        rebalancing_ = true;
        announced_ = true;
        state_.rebalance_announced(now_);
        return "rebalance announced";
    }
    return "nothing";
  }

  std::string broken() const {
    for (const auto& [p, work] : owned_) {
      const bool should = state_.window_closed() || work.progress->held_count() != 0;
      if (paused_.contains(p) != should)
        return fmt::format("partition {} is {} though its window is {} and it holds {} message(s)", p.partition,
                           paused_.contains(p) ? "paused" : "not paused", state_.window_closed() ? "full" : "open",
                           work.progress->held_count());
    }
    if (state_.rebalance_pending_since() && !announced_)
      return "fetching holds for a rebalance, though none was announced or refused a commit since the last one";
    if (!problem_.empty()) return problem_;
    return {};
  }

 private:
  static constexpr std::int32_t partitions = 3;
  struct work {
    std::unique_ptr<partition_progress> progress = std::make_unique<partition_progress>();
    std::int64_t next_fetch = 0;
    std::set<std::int64_t> running;
    std::set<std::int64_t> held;
  };
  struct sent_commit {
    partition_id p;
    std::int64_t position;
    std::uint64_t generation;
  };

  void act(const assignment_state::actions& a) {
    for (const auto& p : a.pause) paused_.insert(p);
    for (const auto& p : a.resume) paused_.erase(p);
  }

  void rebalance_came() {
    rebalancing_ = false;
    announced_ = false;
  }

  std::string assign(const ids& wanted) {
    const auto a = state_.assigned(wanted);
    rebalance_came();
    for (const auto& [p, offset] : a.start) {
      if (!given_up_.contains(p)) {  // another member may have had it since this one: its work may come again
        last_sent_.erase(p);
      }
      auto& w = owned_[p];
      w.next_fetch = offset.value_or(group_commit_[p]);
      if (offset) w.progress->resume_at(*offset);
    }
    given_up_.clear();
    act(a);
    return fmt::format("assign {} partition(s)", wanted.size());
  }

  std::string revoke(const ids& revoked, std::mt19937& random) {
    // The revoke waits for the running handlers until its timeout, then interrupts the rest
    // (released); held messages stay held (the dead letters retry), and the revoke does not
    // wait for them. Then it commits, then it is applied.
    std::vector<assignment_state::start_position> positions;
    for (const auto& p : revoked) {
      auto& w = owned_.at(p);
      for (const auto offset : w.running) {
        if (random() % 2 == 0) {
          w.progress->done(offset);
        } else {
          w.progress->released(offset);
        }
      }
      w.running.clear();
      commit(p);
      positions.push_back({p, w.progress->position()});
    }
    act(state_.revoked(positions));
    rebalance_came();
    given_up_ = std::set<partition_id>(revoked.begin(), revoked.end());
    for (const auto& p : revoked) owned_.erase(p);
    return fmt::format("revoke {} partition(s)", revoked.size());
  }

  std::string fetch(const partition_id& p) {
    auto& w = owned_.at(p);
    const auto offset = w.next_fetch++;
    if (const auto it = last_sent_.find(p); it != last_sent_.end() && offset < it->second)
      problem_ = fmt::format("{}@{} is fetched again, below the position {} this member committed", p.partition, offset,
                             it->second);
    w.progress->started(offset);
    w.running.insert(offset);
    return fmt::format("fetch {}@{}", p.partition, offset);
  }

  void finish(const partition_id& p, std::int64_t offset) {
    auto& w = owned_.at(p);
    w.running.erase(offset);
    w.progress->done(offset);
  }

  std::string commit(const partition_id& p) {
    const auto position = owned_.at(p).progress->take_commit_position();
    if (!position) return "commit: nothing moved";
    if (*position < last_sent_[p])
      problem_ =
          fmt::format("the commit position of {} went back from {} to {}", p.partition, last_sent_[p], *position);
    last_sent_[p] = std::max(last_sent_[p], *position);
    in_flight_.push_back({p, *position, state_.generation()});
    return fmt::format("commit {}@{}", p.partition, *position);
  }

  std::string answer(std::size_t which) {
    const auto c = in_flight_[which];
    in_flight_.erase(in_flight_.begin() + static_cast<long>(which));
    const bool stored = !rebalancing_ && c.generation == state_.generation();
    const auto it = owned_.find(c.p);
    if (stored) {
      group_commit_[c.p] = c.position;
      if (it != owned_.end()) it->second.progress->stored(c.position);
    } else {
      if (it != owned_.end()) it->second.progress->refused(c.position);
      if (c.generation == state_.generation()) announced_ = true;  // a rebalance is on its way
      state_.commit_refused_for_rebalance(c.generation, now_);
    }
    return fmt::format("commit {}@{} of generation {} {}", c.p.partition, c.position, c.generation,
                       stored ? "stored" : "refused: rebalance in progress");
  }

  std::vector<partition_id> not_paused() const {
    std::vector<partition_id> out;
    for (const auto& [p, w] : owned_)
      if (!paused_.contains(p)) out.push_back(p);
    return out;
  }
  std::vector<std::pair<partition_id, std::int64_t>> all_running() const {
    std::vector<std::pair<partition_id, std::int64_t>> out;
    for (const auto& [p, w] : owned_)
      for (const auto o : w.running) out.emplace_back(p, o);
    return out;
  }
  std::vector<std::pair<partition_id, std::int64_t>> all_held() const {
    std::vector<std::pair<partition_id, std::int64_t>> out;
    for (const auto& [p, w] : owned_)
      for (const auto o : w.held) out.emplace_back(p, o);
    return out;
  }

  assignment_state state_;
  assignment_state::time_point now_{};
  std::map<partition_id, work> owned_;
  std::set<partition_id> paused_;  // librdkafka's, kept across unassign and assign
  std::map<partition_id, std::int64_t> group_commit_;
  std::map<partition_id, std::int64_t> last_sent_;
  std::set<partition_id> given_up_;  // by the revoke just before: nobody else had them since
  std::vector<sent_commit> in_flight_;
  bool rebalancing_ = false;  // the coordinator refuses commits until the rebalance comes
  bool announced_ = false;    // since the last rebalance came: a refusal of its generation, or poll's report
  std::string problem_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(kafka_assignment_model, *boost::unit_test::label("unit"))

// Invariants: a partition is paused exactly while the window is full or it holds a message;
// fetching holds for a rebalance only when one was announced since the last came; nothing
// below a position this member committed is fetched again, nor does a partition's commit
// position go back (while nobody else had the partition).
BOOST_AUTO_TEST_CASE(random_rebalances_holds_commits_and_answers_keep_the_invariants) {
  corobus::test::run_model<assignment_model>(1, 2000, 400);
}

BOOST_AUTO_TEST_SUITE_END()
