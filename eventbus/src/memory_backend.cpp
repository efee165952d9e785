#include <corobus/eventbus/detail/bus_core.hpp>
#include <corobus/eventbus/detail/memory_backend.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/stable_hash.hpp>

namespace corobus::detail {

const std::shared_ptr<subscriber>& memory_backend::group::pick(std::string_view key) const {
  if (members.size() == 1) return members.front();
  if (key.empty()) return members[next_member.fetch_add(1, std::memory_order_relaxed) % members.size()];
  // Mixed, so that the member choice does not correlate with the lane choice (hash % lanes).
  const auto mixed = (std::uint64_t{stable_hash(key)} * 0x9E3779B97F4A7C15ull) >> 40;
  return members[mixed % members.size()];
}

memory_backend::topic_state& memory_backend::topic(const std::string& name) {
  {
    std::shared_lock lock(topics_mutex_);
    if (shut_down_) throw_error(errc::closed, "the in-process backend is shut down");
    if (auto it = topics_.find(name); it != topics_.end()) return *it->second;
  }
  std::unique_lock lock(topics_mutex_);
  if (shut_down_) throw_error(errc::closed, "the in-process backend is shut down");
  auto& slot = topics_[name];
  if (!slot) slot = std::make_unique<topic_state>();
  return *slot;
}

std::shared_ptr<const memory_backend::routing> memory_backend::routes_of(topic_state& t) {
  std::lock_guard lock(t.mutex);
  return t.routes;
}

asio::awaitable<publish_result> memory_backend::publish(message msg) {
  auto& t = topic(msg.topic);
  msg.offset = t.next_offset.fetch_add(1, std::memory_order_relaxed);
  return deliver(routes_of(t), std::make_shared<const message>(std::move(msg)), nullptr);
}

asio::awaitable<publish_result> memory_backend::publish_envelope(std::string topic_name,
                                                                 std::shared_ptr<const envelope> env) {
  auto& t = topic(topic_name);
  auto routes = routes_of(t);
  auto msg = std::make_shared<message>();
  msg->topic = std::move(topic_name);
  msg->key = env->aggregate_id;
  msg->offset = t.next_offset.fetch_add(1, std::memory_order_relaxed);
  if (routes->needs_bytes) {
    msg->payload = env->encode();
    msg->headers = metadata_headers(*env);
  }
  return deliver(std::move(routes), std::move(msg), std::move(env));
}

asio::awaitable<publish_result> memory_backend::deliver(std::shared_ptr<const routing> routes,
                                                        std::shared_ptr<const message> msg,
                                                        std::shared_ptr<const envelope> env) {
  for (const auto& g : routes->groups) {
    const auto& member = g->pick(msg->key);
    inbound in(msg, member->wants_envelopes() ? env : nullptr);
    co_await core_.dispatch(*member, std::move(in));
  }
  co_return publish_result{msg->topic, msg->partition, msg->offset};
}

asio::awaitable<void> memory_backend::attach(std::shared_ptr<subscriber> sub) {
  auto& t = topic(sub->topic());
  std::lock_guard lock(t.mutex);
  auto next = std::make_shared<routing>();
  next->needs_bytes = t.routes->needs_bytes || !sub->wants_envelopes();
  bool joined = false;
  for (const auto& g : t.routes->groups) {
    if (g->name != sub->group()) {
      next->groups.push_back(g);
      continue;
    }
    auto grown = std::make_shared<group>();  // groups are immutable once routed to
    grown->name = g->name;
    grown->members = g->members;
    grown->members.push_back(sub);
    next->groups.push_back(std::move(grown));
    joined = true;
  }
  if (!joined) {
    auto g = std::make_shared<group>();
    g->name = sub->group();
    g->members.push_back(std::move(sub));
    next->groups.push_back(std::move(g));
  }
  t.routes = std::move(next);
  co_return;
}

void memory_backend::shutdown() {
  std::unique_lock lock(topics_mutex_);
  shut_down_ = true;
  for (auto& [name, t] : topics_) {
    std::lock_guard topic_lock(t->mutex);
    t->routes = std::make_shared<routing>();
  }
}

}  // namespace corobus::detail
