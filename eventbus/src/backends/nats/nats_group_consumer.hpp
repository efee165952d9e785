#pragma once
// One durable pull consumer of one bus: a group on a topic's stream, or on one partition of
// it. It feeds the bus's subscriptions of that group and topic (group_routes). Two tasks run
// on the connection's strand: run() pulls (pull_subscription, within the ack window) and hands
// messages over; keep_alive() sends +WPI for messages that wait or run long, so a slow handler
// is never redelivered while it runs.
#include <corobus/awaitables/nats/jetstream_admin.hpp>
#include <corobus/awaitables/nats/pull_subscription.hpp>
#include <corobus/eventbus/config.hpp>
#include <corobus/runtime/blocking_pool.hpp>
#include "backends/nats/nats_delivery.hpp"
#include "core/backend.hpp"
#include "core/group_routes.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace corobus::detail {

// What one durable consumer pulls.
struct pull_target {
  std::string topic;
  int partition = -1;  // none: the topic's whole stream
  std::string stream;
  std::string durable;
  std::size_t window = 1000;                 // messages in flight
  std::size_t max_held = 1000;               // held ones besides (nats_delivery.hpp)
  std::chrono::milliseconds pull_expires{};  // each request's life

  std::int64_t max_ack_pending() const noexcept { return static_cast<std::int64_t>(window + max_held); }
};

// What a consumer needs of its backend.
struct consumer_context {
  backend_context backend;
  const nats_config& cfg;
  nats::connection& conn;
  nats::reply_router& replies;
  blocking_pool& blocking;       // for the consumer-info (and a group's key-value) calls
  nats::jetstream_admin& admin;  // used on `blocking` only
};

class nats_group_consumer {
 public:
  nats_group_consumer(const consumer_context& context, std::shared_ptr<group_routes> routes, pull_target target);
  // The window may outlive it (a delivery kept by a stream's reader): it calls nothing here
  // any more.
  ~nats_group_consumer();

  const pull_target& target() const noexcept { return target_; }
  ack_window& window() noexcept { return *window_; }

  // The tasks, on the connection's strand, until cancelled. run() also ends once the pulls
  // drained after revoke(), or stopped after abandon(); keep_alive() once stop_keep_alive().
  asio::awaitable<void> run();
  asio::awaitable<void> keep_alive();
  void stop_keep_alive() { keep_alive_stopped_ = true, tick_.cancel(); }

  // Any thread: a subscription came, so there may be room.
  void room_changed() noexcept { pulls_.room_changed(); }
  // On the strand: the server forgot the pulls (a reconnect).
  void reconnected() { pulls_.restart(); }
  // On the strand, before the first pull or after the pulls were interrupted: when the server
  // shows more messages pending for the durable than this consumer holds, some were sent and
  // never came (a crashed owner's, or lost on the way). They come again once their ack wait
  // ran out, ahead of newer ones: so it waits that long before pulling, keeping per-key order.
  // Ends early on revoke(), abandon() or cancellation.
  asio::awaitable<void> settle();
  // On the strand, once the tasks ended: no more pulls; what came and was not handed over is
  // given back (-NAK), to be delivered again at once.
  void stop();
  // On the strand, once the handlers ended (a revoke's end, or close()): no more pulls, and
  // everything pulled and not handled, what the pulls still held included, is given back
  // (-NAK) in stream order; how many. (A message held back after the -NAKs went out would
  // stay pending on the server for an ack wait and, at max_ack_pending, stall the partition's
  // next owner that long: the nats-group bench's p99 was 1.95 s before, 0.16 s after.)
  std::size_t give_back();
  // On the strand: its partition moves away. Queued messages are dropped as stale; the pulls
  // drain (what still comes is kept to be given back in order); run() ends once drained.
  // `ended` runs (on any thread) whenever one of its messages ends from now on.
  void revoke(std::function<void()> ended);
  // On the strand: the lease is lost. Nothing more is handled, sent or pulled.
  void abandon();
  // On the strand, for close(): no more pulls, but what is still on its way comes (and is
  // given back, in order, by give_back()). Completes once nothing more can come.
  asio::awaitable<void> drain_pulls();
  // Before the connection closes: acknowledgements from now on are not sent.
  void disconnect() noexcept { window_->disconnect(); }

 private:
  int room() const;
  incoming_message to_incoming(nats::jetstream_message m);
  void hold_back(std::vector<nats::jetstream_message>& batch);

  consumer_context context_;
  const nats_config& cfg_;
  pull_target target_;
  std::shared_ptr<group_routes> routes_;
  std::shared_ptr<ack_window> window_;
  nats::pull_subscription pulls_;
  asio::steady_timer tick_;    // keep_alive's
  asio::steady_timer settle_;  // settle()'s wait
  bool keep_alive_stopped_ = false;
};

}  // namespace corobus::detail
