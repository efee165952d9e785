// A NATS group member's partition leases as pure state (lease_state): unit cases, then a
// model test in which three members take, renew, revoke, release and lose leases in a
// modelled key-value bucket (compare-and-set revisions, entries that age out) on a modelled
// clock, checking after every event that no two members ever work on one partition.
#include <boost/test/unit_test.hpp>

#include "backends/nats/lease_state.hpp"
#include "model_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <vector>

using corobus::detail::lease_state;
using corobus::detail::lease_timing;
using namespace std::chrono_literals;
using phase = lease_state::phase;

namespace {

const lease_timing timing(3000ms, 5000ms);  // renew every 750 ms, fenced 2 s after a renewal was sent
const lease_state::time_point t0{};

lease_state::round with_members(std::vector<std::string> members) {
  lease_state::round r;
  r.members = std::move(members);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nats_leases, *boost::unit_test::label("unit"))

BOOST_AUTO_TEST_CASE(a_member_takes_what_the_assignment_gives_it_and_revokes_what_moves_away) {
  lease_state s("a", 4, timing);
  BOOST_TEST((s.look_started(true) == lease_state::membership::write));
  auto plan = s.looked(with_members({}), true, t0);
  BOOST_TEST((plan.take == std::vector<int>{0, 1, 2, 3}));  // alone: every partition
  for (const int p : plan.take) s.taken(p, 10 + static_cast<std::uint64_t>(p), t0);
  BOOST_TEST(s.to_renew().size() == 4u);
  s.look_started(true);
  plan = s.looked(with_members({"b"}), true, t0 + 1ms);  // b joined: half of them move
  BOOST_TEST(plan.revoke.size() == 2u);
  BOOST_TEST(plan.take.empty());
  for (const auto& l : s.to_renew())
    BOOST_TEST((s.phase_of(l) ==
                (std::count(plan.revoke.begin(), plan.revoke.end(), l.partition) ? phase::revoking : phase::waiting)));
  s.look_started(true);
  BOOST_TEST(s.looked(with_members({"b"}), true, t0 + 2ms).revoke.empty());  // revoked once
}

BOOST_AUTO_TEST_CASE(a_lease_is_taken_when_missing_released_or_its_own_and_clean_only_when_released) {
  const lease_state s("a", 1, timing);
  BOOST_TEST((s.take(std::nullopt).how == lease_state::take_by::create));
  BOOST_TEST(!s.take(std::nullopt).clean);
  BOOST_TEST((s.take(std::string("-")).how == lease_state::take_by::update));
  BOOST_TEST(s.take(std::string("-")).clean);
  BOOST_TEST((s.take(std::string("a")).how == lease_state::take_by::update));  // an earlier term's
  BOOST_TEST(!s.take(std::string("a")).clean);
  BOOST_TEST((s.take(std::string("b")).how == lease_state::take_by::leave));
}

BOOST_AUTO_TEST_CASE(the_fence_runs_from_when_a_renewal_was_sent_and_stays_once_passed) {
  lease_state s("a", 1, timing);
  const auto lease = s.taken(0, 1, t0);
  BOOST_TEST((s.fence_of(0) == t0 + 2000ms));
  s.look_started(true);
  lease_state::round r = with_members({});
  r.renewed.push_back({{0, 2, lease.term}, t0 + 700ms});
  auto plan = s.looked(r, true, t0 + 1900ms);  // answered late: the fence is the sending's
  BOOST_TEST((plan.fences == std::vector<std::pair<int, lease_state::time_point>>{{0, t0 + 2700ms}}));
  s.look_started(true);
  plan = s.looked(std::nullopt, true, t0 + 2700ms);  // the next round failed
  BOOST_TEST(plan.abandon.size() == 1u);
  BOOST_TEST(!s.owns(0));
}

BOOST_AUTO_TEST_CASE(a_refused_renewal_abandons_and_a_revoke_finished_during_a_round_is_released_after_it) {
  lease_state s("a", 2, timing);
  const auto l0 = s.taken(0, 1, t0);
  const auto l1 = s.taken(1, 1, t0);
  s.look_started(true);
  lease_state::round r = with_members({"b"});
  r.lost.push_back(l0);
  auto plan = s.looked(r, true, t0 + 1ms);
  BOOST_TEST(plan.abandon.size() == 1u);
  BOOST_TEST(!s.phase_of(l0));
  BOOST_TEST(s.start(l1));
  BOOST_TEST(!s.start(l1));                                               // once
  BOOST_TEST((s.look_started(false) == lease_state::membership::erase));  // unsubscribed here
  plan = s.looked(with_members({"b"}), false, t0 + 2ms);
  BOOST_TEST((plan.revoke == std::vector<int>{1}));
  BOOST_TEST(!s.registered());
  BOOST_TEST((s.look_started(false) == lease_state::membership::none));  // a round begins
  BOOST_TEST(!s.revoke_finished(l1));                                    // its renewal moves the revision on
  r = with_members({"b"});
  r.renewed.push_back({{1, 7, l1.term}, t0 + 3ms});
  plan = s.looked(r, false, t0 + 4ms);
  BOOST_TEST(plan.release.size() == 1u);
  BOOST_TEST(plan.release[0].revision == 7u);
  BOOST_TEST(!s.owns(1));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// Three members of one group on a topic of four partitions, and the group's key-value bucket:
// entries with a revision each, compare-and-set writes, entries that age out lease_ttl after
// their last write. A member's round with the bucket and its answer are separate events, so
// other members act, and the clock moves, in between. Members crash and come back under the
// same name, leave, subscribe and unsubscribe.
class lease_model {
 public:
  lease_model() {
    for (std::size_t i = 0; i < members_.size(); ++i) members_[i].name = std::string(1, static_cast<char>('a' + i));
    for (auto& m : members_) m.state.emplace(m.name, partitions, timing);
  }

  std::string step(std::mt19937& random) {
    auto& m = members_[random() % members_.size()];
    switch (random() % 10) {
      case 0:
      case 1: {
        const auto by = std::chrono::milliseconds(random() % 900);
        now_ += by;
        return fmt::format("clock +{} ms", by.count());
      }
      case 2:
        if (m.alive && !m.round_pending) return round_trip(m, random() % 10 == 0);
        break;
      case 3:
      case 4:
        if (m.alive && m.round_pending) return answer(m);
        break;
      case 5:
        for (const auto& l : m.state->to_renew())
          if (m.state->start(l)) return fmt::format("{} starts partition {}", m.name, l.partition);
        break;
      case 6:
        for (const auto& l : m.state->to_renew())
          if (m.state->phase_of(l) == phase::revoking) {
            if (const auto released = m.state->revoke_finished(l)) release(m, *released);
            return fmt::format("{} finished revoking partition {}", m.name, l.partition);
          }
        break;
      case 7:
        if (random() % 4 != 0) break;
        m.alive = !m.alive;
        if (m.alive) return fmt::format("{} comes back", m.name);
        m.state.emplace(m.name, partitions, timing);  // a crash: everything it knew is gone
        m.round_pending = false;
        return fmt::format("{} crashes", m.name);
      case 8:
        if (random() % 4 != 0) break;
        m.subscribed = !m.subscribed;
        return fmt::format("{} {}", m.name, m.subscribed ? "subscribes" : "unsubscribes");
      case 9:
        if (m.alive && !m.round_pending && random() % 8 == 0) return leave(m);
        break;
    }
    return "nothing";
  }

  std::string broken() {
    for (int p = 0; p < partitions; ++p) {
      std::vector<std::string> working;
      for (auto& m : members_) {
        if (!m.alive) continue;
        for (const auto& l : m.state->to_renew()) {
          const auto ph = m.state->phase_of(l);
          if (l.partition == p && ph != phase::waiting && !m.state->fenced(p, now_)) working.push_back(m.name);
        }
      }
      if (working.size() > 1) return fmt::format("partition {} is worked on by {} members", p, working.size());
      if (working.size() == 1) {
        const auto e = entry(lease_key(p));
        if (!e || e->value != working[0])
          return fmt::format("{} works on partition {}, whose lease says {}", working[0], p,
                             e ? e->value : std::string("nothing"));
      }
    }
    return {};
  }

 private:
  static constexpr int partitions = 4;
  struct kv_entry {
    std::string value;
    std::uint64_t revision = 0;
    lease_state::time_point written;
  };
  struct member {
    std::string name;
    std::optional<lease_state> state;
    bool alive = true;
    bool subscribed = true;
    bool round_pending = false;
    std::optional<lease_state::round> answers;
  };

  static std::string lease_key(int p) { return fmt::format("p.{}", p); }

  std::optional<kv_entry> entry(const std::string& key) const {
    const auto it = bucket_.find(key);
    if (it == bucket_.end() || now_ >= it->second.written + timing.ttl) return std::nullopt;
    return it->second;
  }
  std::uint64_t put(const std::string& key, std::string value) {
    bucket_[key] = {std::move(value), ++revisions_, now_};
    return revisions_;
  }
  std::optional<std::uint64_t> update(const std::string& key, std::string value, std::uint64_t revision) {
    const auto e = entry(key);
    if (!e || e->revision != revision) return std::nullopt;
    return put(key, std::move(value));
  }

  std::string round_trip(member& m, bool fails) {
    const auto membership = m.state->look_started(m.subscribed);
    m.round_pending = true;
    if (fails) {
      m.answers.reset();
      return fmt::format("{}'s round fails", m.name);
    }
    if (membership == lease_state::membership::write) put("m." + m.name, "");
    if (membership == lease_state::membership::erase) bucket_.erase("m." + m.name);
    lease_state::round r;
    for (const auto& other : members_)
      if (other.name != m.name && entry("m." + other.name)) r.members.push_back(other.name);
    for (auto l : m.state->to_renew()) {
      if (const auto revision = update(lease_key(l.partition), m.name, l.revision)) {
        l.revision = *revision;
        r.renewed.emplace_back(l, now_);
      } else {
        r.lost.push_back(l);
      }
    }
    m.answers = std::move(r);
    return fmt::format("{}'s round: {} renewed, {} lost", m.name, m.answers->renewed.size(), m.answers->lost.size());
  }

  std::string answer(member& m) {
    m.round_pending = false;
    const auto plan = m.state->looked(m.answers, m.subscribed, now_);
    for (const auto& l : plan.release) release(m, l);
    std::size_t taken = 0;
    for (const int p : plan.take) {
      const auto e = entry(lease_key(p));
      const auto how = m.state->take(e ? std::optional(e->value) : std::nullopt);
      std::optional<std::uint64_t> revision;
      if (how.how == lease_state::take_by::create && !e) revision = put(lease_key(p), m.name);
      if (how.how == lease_state::take_by::update) revision = update(lease_key(p), m.name, e->revision);
      if (revision) {
        m.state->taken(p, *revision, now_);
        ++taken;
      }
    }
    return fmt::format("{} answered: {} abandoned, {} revoked, {} released, {} taken", m.name, plan.abandon.size(),
                       plan.revoke.size(), plan.release.size(), taken);
  }

  void release(member& m, const lease_state::lease& l) {
    update(lease_key(l.partition), std::string(lease_state::released_mark), l.revision);
  }

  std::string leave(member& m) {
    for (const auto& l : m.state->leases()) release(m, l);
    if (m.state->registered()) bucket_.erase("m." + m.name);
    m.state.emplace(m.name, partitions, timing);
    m.subscribed = false;
    return fmt::format("{} leaves", m.name);
  }

  std::array<member, 3> members_;
  std::map<std::string, kv_entry> bucket_;
  std::uint64_t revisions_ = 0;
  lease_state::time_point now_{};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(nats_lease_model, *boost::unit_test::label("unit"))

// Invariants: no partition is worked on (running or revoking, fence not passed) by two
// members at once, and whoever works on one is the one its lease names.
BOOST_AUTO_TEST_CASE(random_rounds_takes_revokes_crashes_and_clock_steps_never_give_a_partition_two_owners) {
  corobus::test::run_model<lease_model>(1, 1000, 500);
}

BOOST_AUTO_TEST_SUITE_END()
