#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/reply_router.hpp>

#include <fmt/format.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace corobus::nats {

reply_router::reply_router(connection& conn) : conn_(conn) {
  natsInbox* inbox = nullptr;
  throw_if(natsInbox_Create(&inbox), "creating an inbox");
  prefix_ = inbox;
  natsInbox_Destroy(inbox);
  throw_if(natsConnection_SubscribeSync(&sub_, conn_.handle(), (prefix_ + ".>").c_str()), "subscribing to the inbox");
  // No limit on what waits in the subscription: the strand drains it after every read.
  natsSubscription_SetPendingLimits(sub_, -1, -1);
}

reply_router::~reply_router() {
  natsSubscription_Destroy(sub_);
  while (!waiting_.empty()) complete(waiting_.begin(), asio::error::operation_aborted, nullptr);
}

std::string reply_router::new_reply_subject() { return fmt::format("{}.{}", prefix_, ++next_); }

void reply_router::expect(std::string subject, std::chrono::steady_clock::time_point deadline,
                          asio::any_completion_handler<reply_signature> handler) {
  auto timer = std::make_unique<asio::steady_timer>(conn_.get_executor(), deadline);
  timer->async_wait([this, subject](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the reply came
    if (auto it = waiting_.find(subject); it != waiting_.end()) complete(it, make_error_code(NATS_TIMEOUT), nullptr);
  });
  waiting_.emplace(std::move(subject), waiter{std::move(handler), std::move(timer)});
}

void reply_router::drain() {
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

void reply_router::complete(waiter_map::iterator it, boost::system::error_code ec, msg_ptr m) {
  auto w = std::move(it->second);
  waiting_.erase(it);
  w.deadline->cancel();
  // On the strand, not inline: the waiter may call back into this router or cnats.
  asio::post(conn_.get_executor(), [h = std::move(w.handler), ec, m = std::move(m),
                                    timer = std::move(w.deadline)]() mutable { std::move(h)(ec, std::move(m)); });
}

}  // namespace corobus::nats
