#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/reply_router.hpp>

#include <fmt/format.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace corobus::nats {

reply_router::reply_router(connection& conn) : conn_(conn) {
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
  natsSubscription_Destroy(sub_);
  for (auto& [subject, r] : routes_) natsSubscription_Destroy(r.sub);
  while (!waiting_.empty()) complete(waiting_.begin(), asio::error::operation_aborted, nullptr);
}

std::string reply_router::new_reply_subject() { return fmt::format("{}.{}", prefix_, ++next_); }
std::string reply_router::new_route_subject() { return fmt::format("{}.{}", route_prefix_, ++next_); }

void reply_router::expect(std::string subject, std::chrono::steady_clock::time_point deadline,
                          asio::any_completion_handler<reply_signature> handler) {
  auto timer = std::make_unique<asio::steady_timer>(conn_.get_executor(), deadline);
  timer->async_wait([this, subject](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the reply came
    if (auto it = waiting_.find(subject); it != waiting_.end()) complete(it, make_error_code(NATS_TIMEOUT), nullptr);
  });
  waiting_.emplace(std::move(subject), waiter{std::move(handler), std::move(timer)});
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
  w.deadline->cancel();
  // On the strand, not inline: the waiter may call back into this router or cnats.
  asio::post(conn_.get_executor(), [h = std::move(w.handler), ec, m = std::move(m),
                                    timer = std::move(w.deadline)]() mutable { std::move(h)(ec, std::move(m)); });
}

}  // namespace corobus::nats
