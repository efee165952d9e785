#pragma once
// Replies to this connection's requests (JetStream PubAcks, pull batches), on one synchronous
// subscription to a wildcard inbox, drained on the strand and routed by subject: one
// subscription for every request, none with a thread. Each expected reply has its own
// subject and a deadline; a reply that comes after its deadline (or for nobody) is dropped.
// On the connection's strand only, except where said.
#include <corobus/awaitables/nats/connection.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace corobus::nats {

struct msg_deleter {
  void operator()(natsMsg* m) const noexcept { natsMsg_Destroy(m); }
};
using msg_ptr = std::unique_ptr<natsMsg, msg_deleter>;

class reply_router {
 public:
  using reply_signature = void(boost::system::error_code, msg_ptr);

  // Subscribes on `conn`'s strand.
  explicit reply_router(connection& conn);
  ~reply_router();  // ends the subscription and fails what still waits (operation_aborted)

  reply_router(const reply_router&) = delete;
  reply_router& operator=(const reply_router&) = delete;

  // A subject no other request uses.
  std::string new_reply_subject();
  // Routes the reply to `subject` to `handler` (once, called on the strand), or completes it
  // with NATS_TIMEOUT at `deadline`.
  void expect(std::string subject, std::chrono::steady_clock::time_point deadline,
              asio::any_completion_handler<reply_signature> handler);
  // A subject for route(), outside the shared inbox.
  std::string new_route_subject();
  // Routes every message to `subject` to `on_message` (on the strand) until stop_routing():
  // for a request answered by many messages (a pull batch and its statuses). JetStream
  // delivers a pulled message with its stream subject, not the reply subject, so a route has
  // a synchronous subscription of its own; once stopped (UNSUB), what comes late for it
  // reaches nobody.
  void route(std::string subject, std::function<void(msg_ptr)> on_message);
  void stop_routing(const std::string& subject);
  // Hands out what arrived: call it from the connection's after_read.
  void drain();

 private:
  // Deadlines in one ordered map and one timer for the earliest, not a timer per request: a
  // publish in flight costs a map node, not a timer in the reactor's queue.
  using deadline_map = std::multimap<std::chrono::steady_clock::time_point, std::string>;
  struct waiter {
    asio::any_completion_handler<reply_signature> handler;
    deadline_map::iterator deadline;
  };
  using waiter_map = std::map<std::string, waiter, std::less<>>;
  void complete(waiter_map::iterator it, boost::system::error_code ec, msg_ptr m);
  void drain_routes();
  void arm_deadline();
  void expire(std::chrono::steady_clock::time_point now);

  connection& conn_;
  std::string prefix_;  // _INBOX.<nuid>
  std::uint64_t next_ = 0;
  natsSubscription* sub_ = nullptr;
  waiter_map waiting_;
  deadline_map deadlines_;
  asio::steady_timer deadline_timer_;
  std::chrono::steady_clock::time_point armed_for_ = std::chrono::steady_clock::time_point::max();
  std::shared_ptr<int> alive_ = std::make_shared<int>();  // the timer's handler holds a weak copy
  struct route_entry {
    natsSubscription* sub = nullptr;
    std::function<void(msg_ptr)> on_message;
  };
  std::string route_prefix_;  // _INBOX.<another nuid>
  std::map<std::string, route_entry, std::less<>> routes_;
};

}  // namespace corobus::nats
