#include "backends/nats/lease_state.hpp"

#include <utility>

namespace corobus::detail {

lease_state::lease_state(std::string member, int partitions, lease_timing timing)
    : member_(std::move(member)), partitions_(partitions), timing_(timing) {}

lease_state::membership lease_state::look_started(bool here) {
  in_round_ = true;
  if (here) return membership::write;
  return registered_ ? membership::erase : membership::none;
}

std::vector<lease_state::lease> lease_state::to_renew() const {
  std::vector<lease> out;
  for (const auto& [p, o] : owned_) out.push_back(o.held);
  return out;
}

void lease_state::abandon(plan& out, int partition, std::string_view why) {
  out.abandon.emplace_back(partition, why);
  owned_.erase(partition);
}

lease_state::plan lease_state::looked(const std::optional<round>& answers, bool here, time_point now) {
  plan out;
  in_round_ = false;
  if (answers) {
    registered_ = here;
    for (const auto& [renewed, sent] : answers->renewed) {
      const auto it = owned_.find(renewed.partition);
      if (it == owned_.end() || it->second.held.term != renewed.term) continue;
      it->second.held.revision = renewed.revision;
      if (!it->second.fence_passed) {
        it->second.fence = sent + timing_.fence_after;  // from when it was sent, not answered
        out.fences.emplace_back(renewed.partition, it->second.fence);
      }
    }
    for (const auto& lost : answers->lost)
      if (const auto it = owned_.find(lost.partition); it != owned_.end() && it->second.held.term == lost.term)
        abandon(out, lost.partition, "another member holds its lease now");
  }
  // Past the fence (renewals failed for a third of the lease's life): given up, whatever
  // the server still says; the next owner waits out the ack wait for what this one held.
  std::vector<int> fenced_now;
  for (const auto& [p, o] : owned_)
    if (fenced(p, now)) fenced_now.push_back(p);
  for (const int p : fenced_now) abandon(out, p, "its lease could not be renewed in time");
  // Revokes that finished during the round: their revision is the round's.
  for (const int p : std::exchange(released_after_round_, {}))
    if (const auto it = owned_.find(p); it != owned_.end()) {
      out.release.push_back(it->second.held);
      owned_.erase(it);
    }
  if (!answers) return out;

  std::vector<int> wanted;
  if (here) {
    auto members = answers->members;
    members.push_back(member_);
    wanted = owned_by(assign_partitions(partitions_, std::move(members)), member_);
  }
  std::vector<int> held;
  std::vector<int> draining;
  for (const auto& [p, o] : owned_) (o.ph == phase::revoking ? draining : held).push_back(p);
  auto moves = plan_moves(wanted, held, draining);
  for (const int p : moves.revoke) owned_.at(p).ph = phase::revoking;
  out.revoke = std::move(moves.revoke);
  out.take = std::move(moves.acquire);
  return out;
}

lease_state::take_decision lease_state::take(const std::optional<std::string>& value) const {
  if (!value) return {take_by::create, false};  // never held, or its owner's lease expired
  // Our own lease of an earlier, abandoned term is not clean: what we held then comes again.
  if (*value == released_mark || *value == member_) return {take_by::update, *value == released_mark};
  return {};  // another member holds it
}

lease_state::lease lease_state::taken(int partition, std::uint64_t revision, time_point sent) {
  auto& o = owned_[partition];
  o = owned{};
  o.held = {partition, revision, ++terms_};
  o.fence = sent + timing_.fence_after;
  return o.held;
}

lease_state::owned* lease_state::find(const lease& l) {
  const auto it = owned_.find(l.partition);
  return it != owned_.end() && it->second.held.term == l.term ? &it->second : nullptr;
}

bool lease_state::start(const lease& l) {
  auto* o = find(l);
  if (!o || o->ph != phase::waiting) return false;
  o->ph = phase::running;
  return true;
}

std::optional<lease_state::lease> lease_state::revoke_finished(const lease& l) {
  auto* o = find(l);
  if (!o) return std::nullopt;  // abandoned meanwhile
  if (in_round_) {
    released_after_round_.push_back(l.partition);
    return std::nullopt;
  }
  const auto held = o->held;
  owned_.erase(l.partition);
  return held;
}

std::optional<lease_state::phase> lease_state::phase_of(const lease& l) const {
  const auto it = owned_.find(l.partition);
  if (it == owned_.end() || it->second.held.term != l.term) return std::nullopt;
  return it->second.ph;
}

bool lease_state::fenced(int partition, time_point now) {
  const auto it = owned_.find(partition);
  if (it == owned_.end()) return false;
  if (now >= it->second.fence) it->second.fence_passed = true;
  return it->second.fence_passed;
}

}  // namespace corobus::detail
