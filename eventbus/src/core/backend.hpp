#pragma once
// What a transport provides to the bus. The bus does the checking (closed, names, envelope
// validity) and the delivery semantics; a backend moves messages.
#include <corobus/eventbus/envelope.hpp>
#include <corobus/eventbus/message.hpp>
#include <corobus/eventbus/metrics.hpp>
#include <corobus/runtime/io_pool.hpp>
#include "core/counters.hpp"
#include "core/dead_letter_plan.hpp"
#include "core/record_limits.hpp"
#include "core/subscriber.hpp"

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace corobus::detail {

class handoff;

// What a backend may use of the bus: the io pool (for its strands), the one hand-off into
// subscriptions, and the counters. Its own settings come apart (config::kafka for Kafka).
struct backend_context {
  io_pool& pool;
  detail::handoff& handoff;
  counters& stats;
};

class backend {
 public:
  virtual ~backend() = default;

  virtual asio::awaitable<publish_result> publish(message msg) = 0;
  // `env` is valid; the message's key is its aggregate id.
  virtual asio::awaitable<publish_result> publish_envelope(std::string topic, envelope env) = 0;
  // Every envelope of `batch` is valid. Sent in order; completes when all were accepted,
  // throwing the first failure once every envelope has its answer. By default one
  // publish_envelope after the other.
  virtual asio::awaitable<std::vector<publish_result>> publish_envelopes(std::string topic,
                                                                         std::vector<envelope> batch);

  // Writes a dead letter the bus made (a publish, but not the application's). By default
  // publish().
  virtual asio::awaitable<publish_result> write_dead_letter(message msg) { return publish(std::move(msg)); }
  // What one record publish() takes: dead letters are cut to fit. By default unbounded.
  virtual record_limits limits() const { return {}; }
  // What an error publish() threw means for writing the same record again.
  virtual write_failure classify(const boost::system::error_code& /*ec*/) const { return write_failure::refused; }

  // Starts feeding `sub` (its topic and group).
  virtual asio::awaitable<void> attach(std::shared_ptr<subscriber> sub) = 0;
  // Stops feeding `sub`; its group's other members (if any) take its share.
  virtual void detach(const std::shared_ptr<subscriber>& sub) = 0;

  virtual corobus::connection_status connection_status() const { return {}; }

  // close(), first step: fetch nothing more. Blocking, on the closing thread.
  virtual void stop_intake() = 0;
  // close(), last step, once every task ended: commit what is done and close the clients.
  // Blocking, on the closing thread; the io threads still run.
  virtual void shutdown() = 0;
};

}  // namespace corobus::detail
