#include "core/group_routes.hpp"
#include "core/member_choice.hpp"

namespace corobus::detail {

group_routes::group_routes(handoff& h, topics_changed on_topics)
    : handoff_(h), current_(std::make_shared<const table>()), on_topics_(std::move(on_topics)) {}

std::shared_ptr<const group_routes::table> group_routes::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void group_routes::replace(std::shared_ptr<const table> next) {
  const bool topics_differ = next->size() != current_->size();
  any_.store(!next->empty());
  current_ = std::move(next);
  if (topics_differ && on_topics_) {
    std::vector<std::string> topics;
    for (const auto& [topic, members] : *current_) topics.push_back(topic);
    on_topics_(topics);
  }
}

void group_routes::add(std::shared_ptr<subscriber> sub) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<table>(*current_);
  (*next)[sub->topic()].push_back(std::move(sub));
  replace(std::move(next));
}

void group_routes::remove(const std::shared_ptr<subscriber>& sub) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<table>(*current_);
  const auto it = next->find(sub->topic());
  if (it == next->end()) return;
  std::erase(it->second, sub);
  if (it->second.empty()) next->erase(it);
  replace(std::move(next));
}

const group_routes::members* group_routes::of(const table& t, std::string_view topic) {
  const auto it = t.find(topic);
  return it == t.end() ? nullptr : &it->second;
}

bool group_routes::try_deliver(const table& t, incoming_message& in) {
  const auto* m = of(t, in.msg->topic);
  if (!m) return false;  // deliver() decides with the newest table
  return handoff_.try_deliver(*pick_member(*m, in, round_robin_), in);
}

asio::awaitable<void> group_routes::deliver(incoming_message in) {
  for (;;) {
    const auto t = current();
    const auto* m = of(*t, in.msg->topic);
    if (!m) {  // unsubscribed meanwhile: the group's next owner delivers it
      in.source->released(*in.msg);
      co_return;
    }
    // Refused only when that subscription ended meanwhile; the table no longer names it.
    if (co_await handoff_.deliver(*pick_member(*m, in, round_robin_), in.another_try(), on_cancel::abort)) co_return;
  }
}

void group_routes::interrupt(std::string_view topic, const std::vector<const ack_handle*>& sources) const {
  const auto t = current();
  if (const auto* m = of(*t, topic))
    for (const auto& sub : *m)
      for (const auto* source : sources) sub->interrupt(*source);
}

}  // namespace corobus::detail
