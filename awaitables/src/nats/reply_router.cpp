#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/reply_router.hpp>

#include <fmt/format.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>

namespace corobus::nats {

reply_router::reply_router(connection& conn) : conn_(conn), deadline_timer_(conn.get_executor()) {
  const auto new_inbox = [] {
    natsInbox* inbox = nullptr;
    throw_if(natsInbox_Create(&inbox), "creating an inbox");
    std::string name = inbox;
    natsInbox_Destroy(inbox);
    return name;
  };
  prefix_ = new_inbox();
  route_prefix_ = new_inbox();
  throw_if(natsConnection_SubscribeSync(&sub_, conn_.handle(), (prefix_ + ".>").c_str()), "subscribing to the inbox");
  // No limit on what waits in the subscription: the strand drains it after every read.
  natsSubscription_SetPendingLimits(sub_, -1, -1);
}

reply_router::~reply_router() {
  alive_.reset();
  deadline_timer_.cancel();
  natsSubscription_Destroy(sub_);
  for (auto& [subject, r] : routes_) natsSubscription_Destroy(r.sub);
  while (!waiting_.empty()) complete(waiting_.begin(), asio::error::operation_aborted, nullptr);
}

std::string reply_router::new_reply_subject() { return fmt::format("{}.{}", prefix_, ++next_); }
std::string reply_router::new_route_subject() { return fmt::format("{}.{}", route_prefix_, ++next_); }

void reply_router::expect(std::string subject, std::chrono::steady_clock::time_point deadline,
                          asio::any_completion_handler<reply_signature> handler) {
  const auto at = deadlines_.emplace(deadline, subject);
  waiting_.emplace(std::move(subject), waiter{std::move(handler), at});
  if (deadline < armed_for_) arm_deadline();
}

void reply_router::arm_deadline() {
  if (deadlines_.empty()) return;
  armed_for_ = deadlines_.begin()->first;
  deadline_timer_.expires_at(armed_for_);  // cancels the wait for a later one
  deadline_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired()) return;  // re-armed for an earlier deadline, or gone
    armed_for_ = std::chrono::steady_clock::time_point::max();
    expire(std::chrono::steady_clock::now());
    arm_deadline();
  });
}

void reply_router::expire(std::chrono::steady_clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    if (const auto it = waiting_.find(deadlines_.begin()->second); it != waiting_.end())
      complete(it, make_error_code(NATS_TIMEOUT), nullptr);  // erases its deadline
    else
      deadlines_.erase(deadlines_.begin());
  }
}

void reply_router::route(std::string subject, std::function<void(msg_ptr)> on_message) {
  route_entry r{nullptr, std::move(on_message)};
  throw_if(natsConnection_SubscribeSync(&r.sub, conn_.handle(), subject.c_str()), "subscribing to a reply subject");
  natsSubscription_SetPendingLimits(r.sub, -1, -1);
  routes_.insert_or_assign(std::move(subject), std::move(r));
}

void reply_router::stop_routing(const std::string& subject) {
  if (const auto it = routes_.find(subject); it != routes_.end()) {
    natsSubscription_Destroy(it->second.sub);  // UNSUB: what comes late reaches nobody
    routes_.erase(it);
  }
}

void reply_router::drain() {
  drain_routes();
  int pending = 0, bytes = 0;
  // GetPending first: NextMsg on an empty queue pushes onto cnats's error stack.
  while (natsSubscription_GetPending(sub_, &pending, &bytes) == NATS_OK && pending > 0) {
    natsMsg* raw = nullptr;
    const auto s = natsSubscription_NextMsg(&raw, sub_, 0);
    // cnats turns a 503 (no responders) into this status and destroys the message, subject
    // and all: which request it answered is lost, and that request ends at its deadline.
    if (s == NATS_NO_RESPONDERS) continue;
    if (s != NATS_OK) break;
    msg_ptr m(raw);
    const auto it = waiting_.find(std::string_view(natsMsg_GetSubject(raw)));
    if (it != waiting_.end()) complete(it, {}, std::move(m));  // else: late, or nobody's: dropped
  }
}

void reply_router::drain_routes() {
  if (routes_.empty()) return;
  std::vector<std::string> subjects;  // a handler may stop its route, or another
  for (const auto& [subject, r] : routes_) subjects.push_back(subject);
  for (const auto& subject : subjects) {
    for (;;) {
      const auto it = routes_.find(subject);
      if (it == routes_.end()) break;
      int pending = 0, bytes = 0;
      if (natsSubscription_GetPending(it->second.sub, &pending, &bytes) != NATS_OK || pending == 0) break;
      natsMsg* raw = nullptr;
      const auto s = natsSubscription_NextMsg(&raw, it->second.sub, 0);
      if (s == NATS_NO_RESPONDERS) continue;  // a status cnats consumed (see drain)
      if (s != NATS_OK) break;
      auto on_message = it->second.on_message;  // a copy: it may stop its own route
      on_message(msg_ptr(raw));
    }
  }
}

void reply_router::complete(waiter_map::iterator it, boost::system::error_code ec, msg_ptr m) {
  auto w = std::move(it->second);
  waiting_.erase(it);
  deadlines_.erase(w.deadline);
  // Posted, not called: the waiter may call back into this router or cnats. Straight to its
  // own executor (the awaiting coroutine's, for a publish): a hop through the strand first
  // would cost every publish a second hand-over.
  const auto ex =
      asio::prefer(asio::get_associated_executor(w.handler, conn_.get_executor()), asio::execution::blocking.never);
  ex.execute([h = std::move(w.handler), ec, m = std::move(m)]() mutable { std::move(h)(ec, std::move(m)); });
}

}  // namespace corobus::nats
