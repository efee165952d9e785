#pragma once
// One durable pull consumer (a group on a topic's stream) of one bus: every subscription of
// the bus in that group and topic is fed by it, each key always to the same one (its lanes
// keep the order). Two tasks run on the connection's strand: run() pulls (pull_subscription,
// within the ack window) and hands messages over; keep_alive() sends +WPI for messages that
// wait or run long, so a slow handler is never redelivered while it runs.
#include <corobus/awaitables/nats/pull_subscription.hpp>
#include <corobus/eventbus/config.hpp>
#include "backends/nats/nats_delivery.hpp"
#include "core/backend.hpp"
#include "core/subscriber.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace corobus::detail {

class nats_group_consumer {
 public:
  nats_group_consumer(backend_context context, const nats_config& cfg, nats::connection& conn,
                      nats::reply_router& replies, std::string stream, std::string durable);

  const std::string& durable() const noexcept { return durable_; }

  // Any thread.
  void add(std::shared_ptr<subscriber> sub);
  void remove(const std::shared_ptr<subscriber>& sub);

  // The tasks, on the connection's strand, until cancelled.
  asio::awaitable<void> run();
  asio::awaitable<void> keep_alive();

  // On the strand: the server forgot the pulls (a reconnect).
  void reconnected() { pulls_.restart(); }
  // On the strand, once the tasks ended: no more pulls; what came and was not handed over is
  // given back (-NAK), to be delivered again at once.
  void stop();
  // Before the connection closes: acknowledgements from now on are not sent.
  void disconnect() noexcept { window_->disconnect(); }

 private:
  using members = std::vector<std::shared_ptr<subscriber>>;
  std::shared_ptr<const members> routes() const;
  int room() const;
  incoming_message to_incoming(nats::msg_ptr m);
  asio::awaitable<void> deliver(incoming_message in);

  backend_context context_;
  const nats_config& cfg_;
  std::string durable_;
  std::shared_ptr<ack_window> window_;
  nats::pull_subscription pulls_;
  mutable std::mutex routes_mutex_;
  std::shared_ptr<const members> routes_;
  std::atomic<bool> has_members_{false};
  std::atomic<std::size_t> round_robin_{0};
};

}  // namespace corobus::detail
