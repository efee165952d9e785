#pragma once
// A continuous JetStream pull (what nats.go calls Consume): pull requests to
// `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` on one reply subject of its own, kept
// asked-for ahead of the owner (pull_pending: again at half the batch, only the deficit), so
// messages stream in as the server has them instead of a batch at a time.
//
// - Backpressure: a pull never asks for more than the owner's `room` (its in-flight window
//   less what it holds and what is asked for already); with no room nothing is pulled until
//   room_changed().
// - Heartbeats: each request asks for an idle heartbeat; when no message of any kind came for
//   two of them, the server forgot the requests (a restart, a lost route): pending is reset
//   and a fresh pull goes out, or the pull is interrupted (below). So it is at the client's
//   deadline a second beyond the last request's expiry (2.9.10 can let a request expire
//   without its 408).
// - restart(): after a reconnect (the server forgot the requests), the same.
// - Interrupted: when requests end unanswered (a reconnect, a leadership change, missed
//   heartbeats, a deadline) while messages were still asked for, some may have been sent and
//   lost on the way: in a cluster the consumer's leader reaches this connection over a route,
//   and a node killed under it takes what was on that route along, with no word to anyone.
//   The server redelivers those only after their ack wait, and a pull sent at once would get
//   newer messages of the same keys first. So no pull goes out until the owner, having decided
//   whether to wait (nats_group_consumer::settle: only when the server has more pending than
//   the owner holds), calls resume().
// - 409s that end the consumer (deleted, push based) and 400s fail it: failure() says why.
//   The others (max waiting, leadership change) are logged and pulled again after a moment.
// On the connection's strand, except room_changed().
#include <corobus/awaitables/nats/jetstream_message.hpp>
#include <corobus/awaitables/nats/pull_pending.hpp>
#include <corobus/awaitables/nats/reply_router.hpp>
#include <corobus/runtime/async_op.hpp>

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace corobus::nats {

class pull_subscription {
 public:
  struct options {
    options() = default;  // not an aggregate: see publish_options for the g++ 12 rule
    int batch = 256;
    std::chrono::milliseconds expires{10000};  // each request's life; its heartbeat is a fifth
  };

  // `room` (on the strand): how many more messages the owner takes now.
  pull_subscription(connection& conn, reply_router& replies, std::string stream, std::string consumer, options opts,
                    std::function<int()> room);
  ~pull_subscription();

  pull_subscription(const pull_subscription&) = delete;
  pull_subscription& operator=(const pull_subscription&) = delete;

  // Subscribes a reply subject of its own and sends the first pull (again after stop()).
  void start();
  // Sends no more pulls, ends the reply subject, fails waits (operation_aborted).
  void stop();
  // Sends no more pulls but keeps the reply subject, so what the server still sends for the
  // requests out there arrives (to be taken) instead of being lost in flight: a message lost
  // so stays unacknowledged on the server, and comes back an ack wait later, after newer ones.
  // drained() once nothing more can come: every request answered, or past its expiry. Ends
  // an interruption: what was lost on the way is the next owner's. Called again, nothing new.
  void drain();
  bool drained() const noexcept { return drained_; }

  // What arrived since the last take, in the stream's order, into `out` (emptied first; the
  // two vectors trade places, so neither allocates again once grown).
  void take(std::vector<jetstream_message>& out);
  // Asks for more if pull_pending says so: after the owner counted what it took (its room).
  void refill();
  std::size_t buffered() const noexcept { return buffer_.size(); }
  // Completes (void(error_code)) once there is something to take, the subscription failed or
  // (after drain()) it drained.
  // Cancellation ends the wait with operation_aborted.
  template <class Token = default_token>
  auto async_wait(Token&& token = {}) {
    return launch(wait_op(), std::forward<Token>(token), start_on(conn_.get_executor()));
  }
  boost::system::error_code failure() const noexcept { return failure_; }

  // Any thread: the owner has more room (a message was acknowledged). Cheap when no pull
  // waits for room.
  void room_changed() noexcept;
  // The server forgot the pulls (a reconnect): asks afresh, or is interrupted (see the top).
  void restart();
  bool interrupted() const noexcept { return interrupted_; }
  // Pulls again after an interruption.
  void resume();

 private:
  asio::awaitable<void> wait_op();
  void on_message(msg_ptr m);
  // The requests are gone: pulls afresh, or is interrupted when some were unanswered.
  void reset(const char* why);
  void watch();  // a message came (or a pull went): the watchdog counts from now
  void arm_watchdog();
  void on_watchdog();  // two heartbeats since the last message, or it looks again later

  connection& conn_;
  reply_router& replies_;
  std::string stream_;
  std::string consumer_;
  std::string next_subject_;
  options opts_;
  std::chrono::milliseconds heartbeat_;
  std::function<int()> room_;
  std::string reply_;
  pull_pending pending_;
  std::vector<jetstream_message> buffer_;
  boost::system::error_code failure_;
  bool running_ = false;
  bool draining_ = false;
  bool drained_ = false;
  bool interrupted_ = false;
  std::atomic<bool> starved_{false};  // a pull waits for room
  asio::steady_timer wake_;           // the owner's wait
  asio::steady_timer watchdog_;       // heartbeats
  bool watching_ = false;
  // The last message of any kind: the watchdog compares, so a message costs a clock read, not
  // a timer re-armed in the reactor.
  std::chrono::steady_clock::time_point last_heard_;
  asio::steady_timer deadline_;  // the last request's expiry, and a second
  // Timer handlers hold a weak copy: one already queued when this object goes does nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>();
};

}  // namespace corobus::nats
