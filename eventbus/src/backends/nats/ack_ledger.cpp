#include "backends/nats/ack_ledger.hpp"

#include <algorithm>

namespace corobus::detail {

ack_ledger::~ack_ledger() {
  // Deliveries still listed (a stream's reader may keep one) forget nothing later.
  open_.clear();
  held_list_.clear();
}

std::size_t ack_ledger::room() const noexcept {
  const auto used = in_flight();
  const auto pending = used + held();
  if (used >= limit_ || pending >= limit_ + held_limit_) return 0;
  return std::min(limit_ - used, limit_ + held_limit_ - pending);
}

void ack_ledger::opened(entry& e, time_point now) {
  e.st = entry::state::open;
  e.progress_at = now;
  open_.push_back(e);
}

bool ack_ledger::hold(entry& e) {
  if (e.st != entry::state::open) return false;
  open_.erase(open_.iterator_to(e));
  held_list_.push_back(e);
  e.st = entry::state::held;
  return held_limit_ > 0 && held() == held_limit_;
}

bool ack_ledger::end(entry& e) {
  switch (e.st) {
    case entry::state::open: open_.erase(open_.iterator_to(e)); break;
    case entry::state::held: held_list_.erase(held_list_.iterator_to(e)); break;
    case entry::state::pulled:
    case entry::state::ended: return false;
  }
  e.st = entry::state::ended;
  return true;
}

ack_ledger::answer ack_ledger::done(entry& e, time_point now) {
  if (!end(e) || !e.reply || silent(now)) return answer::nothing;
  return answer::ack;
}

ack_ledger::answer ack_ledger::released(entry& e, time_point now) {
  if (revoked(now)) {
    held_back(e);
    return answer::nothing;
  }
  if (!end(e)) return answer::nothing;
  ++given_back_;
  return !e.reply || silent(now) ? answer::nothing : answer::nak;
}

void ack_ledger::held_back(entry& e) {
  if (!end(e)) return;
  ++given_back_;
  if (e.reply) held_back_.emplace_back(e.sequence, e.reply);
}

std::vector<const char*> ack_ledger::keep_alive(time_point before, time_point now) {
  std::vector<const char*> out;
  if (silent(now)) return out;  // silent: the ack wait runs out from the last sign of life
  for (auto* l : {&open_, &held_list_})
    for (auto& e : *l) {
      if (e.progress_at > before) continue;
      if (e.reply) out.push_back(e.reply);
      e.progress_at = now;
    }
  return out;
}

ack_ledger::give_back ack_ledger::give_back_in_order(time_point now) {
  // The server redelivers -NAKed messages in the order the -NAKs came, before newer ones.
  for (auto* l : {&open_, &held_list_})
    while (!l->empty()) held_back(l->front());
  std::sort(held_back_.begin(), held_back_.end());
  give_back out;
  out.count = held_back_.size();
  if (!silent(now))
    for (auto& [sequence, reply] : held_back_) out.naks.push_back(std::move(reply));
  held_back_.clear();
  return out;
}

void ack_ledger::set_fence(time_point at, time_point now) noexcept {
  if (!fenced(now)) fence_ = at;
}

bool ack_ledger::fenced(time_point now) noexcept {
  if (!fence_passed_ && now >= fence_) fence_passed_ = true;
  return fence_passed_;
}

std::vector<const ack_ledger::entry*> ack_ledger::open_entries() const {
  std::vector<const entry*> out;
  for (const auto& e : open_) out.push_back(&e);
  return out;
}

}  // namespace corobus::detail
