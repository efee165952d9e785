#include "backends/memory/memory_backend.hpp"
#include <corobus/runtime/error.hpp>
#include "core/handoff.hpp"
#include "core/member_choice.hpp"

#include <corobus/runtime/log.hpp>
#include <corobus/runtime/stable_hash.hpp>

namespace corobus::detail {

const std::shared_ptr<subscriber>& memory_backend::group::pick(const incoming_message& in) const {
  return pick_member(members, in, next_member);
}

memory_backend::topic_state* memory_backend::directory::find(std::string_view name) const {
  const auto mask = slots.size() - 1;
  for (auto i = stable_hash(name) & mask;; i = (i + 1) & mask) {
    auto* t = slots[i].load(std::memory_order_acquire);
    if (!t || t->name == name) return t;
  }
}

void memory_backend::directory::insert(topic_state* t) {
  const auto mask = slots.size() - 1;
  auto i = stable_hash(t->name) & mask;
  while (slots[i].load(std::memory_order_relaxed)) i = (i + 1) & mask;
  slots[i].store(t, std::memory_order_release);
  ++used;
}

memory_backend::memory_backend(backend_context context) : context_(context) {
  directories_.push_back(std::make_unique<directory>(64));
  routings_.push_back(std::make_unique<const routing>());  // the table of a topic nobody subscribed to
  directory_.store(directories_.back().get(), std::memory_order_release);
}

memory_backend::~memory_backend() = default;

memory_backend::topic_state& memory_backend::topic(const std::string& name) {
  if (shut_down_.load(std::memory_order_acquire)) throw_error(errc::closed, "the in-process backend is shut down");
  if (auto* t = directory_.load(std::memory_order_acquire)->find(name)) return *t;

  std::lock_guard lock(writers_);
  auto* dir = directories_.back().get();
  if (auto* t = dir->find(name)) return *t;
  auto* t = topics_.emplace_back(std::make_unique<topic_state>(name)).get();
  t->routes.store(routings_.front().get(), std::memory_order_release);
  if (2 * (dir->used + 1) > dir->slots.size()) {  // keep it at most half full: short probes
    auto grown = std::make_unique<directory>(2 * dir->slots.size());
    for (const auto& slot : dir->slots)
      if (auto* existing = slot.load(std::memory_order_relaxed)) grown->insert(existing);
    dir = directories_.emplace_back(std::move(grown)).get();
    dir->insert(t);
    directory_.store(dir, std::memory_order_release);
  } else {
    dir->insert(t);
  }
  return *t;
}

asio::awaitable<publish_result> memory_backend::publish(message msg) { return send(std::move(msg), true); }

asio::awaitable<publish_result> memory_backend::write_dead_letter(message msg) { return send(std::move(msg), false); }

asio::awaitable<publish_result> memory_backend::send(message msg, bool unrouted) {
  auto& t = topic(msg.topic);
  msg.offset = t.next_offset.fetch_add(1, std::memory_order_relaxed);
  return deliver(t, *t.routes.load(std::memory_order_acquire), std::make_shared<const message>(std::move(msg)), nullptr,
                 unrouted);
}

asio::awaitable<publish_result> memory_backend::publish_envelope(std::string topic_name, envelope env) {
  auto& t = topic(topic_name);
  const auto& routes = *t.routes.load(std::memory_order_acquire);
  // The message and its envelope in one allocation: both end when the last subscriber is done.
  struct envelope_message {
    message msg;
    envelope env;
  };
  auto both = std::make_shared<envelope_message>();
  both->env = std::move(env);
  auto& msg = both->msg;
  msg.topic = std::move(topic_name);
  msg.key = both->env.aggregate_id;
  msg.offset = t.next_offset.fetch_add(1, std::memory_order_relaxed);
  if (routes.needs_bytes) {
    msg.payload = both->env.encode();
    msg.headers = metadata_headers(both->env);
  }
  std::shared_ptr<const message> m(both, &both->msg);
  std::shared_ptr<const envelope> e(std::move(both), &both->env);
  return deliver(t, routes, std::move(m), std::move(e));
}

asio::awaitable<publish_result> memory_backend::deliver(topic_state& t, const routing& routes,
                                                        std::shared_ptr<const message> msg,
                                                        std::shared_ptr<const envelope> env, bool unrouted) {
  if (routes.groups.empty()) {
    // An in-process topic keeps nothing: without a subscriber the message ends here. Counted,
    // and said once per topic.
    if (unrouted) context_.stats.unrouted.add();
    if (!t.told_unrouted.exchange(true, std::memory_order_relaxed))
      log().info("no subscriber on '{}': the in-process backend does not keep messages published there", t.name);
  }
  for (const auto& g : routes.groups) {
    incoming_message in(msg, env);
    const auto& member = g->pick(in);
    if (!member->wants_envelopes()) in.env = nullptr;
    if (context_.handoff.try_deliver(*member, in)) continue;  // no coroutine on the usual path
    // A publish is never cut off halfway through its groups: the publisher's cancellation
    // does not end a wait for room (close() does, with errc::closed).
    co_await context_.handoff.deliver(*member, std::move(in), on_cancel::ignore);
  }
  co_return publish_result{msg->topic, msg->partition, msg->offset};
}

asio::awaitable<void> memory_backend::attach(std::shared_ptr<subscriber> sub) {
  auto& t = topic(sub->topic());
  std::lock_guard lock(writers_);
  const auto& current = *t.routes.load(std::memory_order_acquire);
  auto next = std::make_unique<routing>();
  next->needs_bytes = current.needs_bytes || !sub->wants_envelopes();
  bool joined = false;
  for (const auto& g : current.groups) {
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
  replace_routes(t, std::move(next));
  co_return;
}

void memory_backend::detach(const std::shared_ptr<subscriber>& sub) {
  if (shut_down_.load(std::memory_order_acquire)) return;
  auto& t = topic(sub->topic());
  std::lock_guard lock(writers_);
  auto next = std::make_unique<routing>();
  for (const auto& g : t.routes.load(std::memory_order_acquire)->groups) {
    auto shrunk = std::make_shared<group>();
    shrunk->name = g->name;
    for (const auto& m : g->members)
      if (m != sub) shrunk->members.push_back(m);
    if (shrunk->members.empty()) continue;
    for (const auto& m : shrunk->members) next->needs_bytes |= !m->wants_envelopes();
    next->groups.push_back(std::move(shrunk));
  }
  replace_routes(t, std::move(next));
}

void memory_backend::replace_routes(topic_state& t, std::unique_ptr<routing> next) {
  t.routes.store(next.get(), std::memory_order_release);
  routings_.push_back(std::move(next));
}

void memory_backend::shutdown() {
  // Publishing stops here. The tables stay until the backend is destroyed: a publisher that
  // loaded one just before may still read it. They hold subscribers, which is harmless once
  // the scope is joined: strands and timers lived only in the lanes' coroutine frames.
  shut_down_.store(true, std::memory_order_release);
  std::lock_guard lock(writers_);
  for (auto& t : topics_) t->routes.store(routings_.front().get(), std::memory_order_release);
}

}  // namespace corobus::detail
