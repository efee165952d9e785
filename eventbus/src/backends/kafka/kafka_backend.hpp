#pragma once
// The Kafka backend: one idempotent producer per bus, and one consumer per bus and consumer
// group (kafka_group_consumer). A bootstrap of "embedded" starts an embedded cluster owned by the bus.
//
// Tasks live in two scopes of their own, apart from the bus's scope of handler work, because
// they run until cancelled: the fetch and commit loops stop when close() begins, the
// producer's report loop only after the handlers (and their dead letters) are done.
#include <corobus/awaitables/kafka/embedded_cluster.hpp>
#include <corobus/awaitables/kafka/producer.hpp>
#include <corobus/eventbus/config.hpp>
#include <corobus/runtime/gate.hpp>
#include <corobus/runtime/task_scope.hpp>
#include "backends/kafka/kafka_group_consumer.hpp"
#include "core/backend.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>

namespace corobus::detail {

class kafka_backend final : public backend {
 public:
  // Starts the embedded cluster (if asked for) and the producer, and checks that a broker
  // answers within kafka.connect_timeout (errc::broker_error if none does). Blocking.
  kafka_backend(backend_context context, const kafka_config& cfg);
  ~kafka_backend() override;

  asio::awaitable<publish_result> publish(message msg) override;
  asio::awaitable<publish_result> publish_envelope(std::string topic, envelope env) override;
  // One producer batch: the records go out together and one completion answers them all.
  asio::awaitable<std::vector<publish_result>> publish_envelopes(std::string topic,
                                                                 std::vector<envelope> batch) override;
  record_limits limits() const override { return limits_; }
  write_failure classify(const boost::system::error_code& ec) const override;
  asio::awaitable<void> attach(std::shared_ptr<subscriber> sub) override;
  void detach(const std::shared_ptr<subscriber>& sub) override;
  void stop_intake() override;
  void shutdown() override;

 private:
  // `defaults`, the bootstrap, then the config's properties for both clients, then `specific`.
  kafka::properties client_properties(const kafka::properties& defaults,
                                      const std::map<std::string, std::string>& specific) const;
  kafka::properties producer_properties() const;
  kafka::properties consumer_properties(const std::string& group) const;
  void check_brokers_answer();
  // Applies the topic strategy to `topic`, once per topic and bus.
  asio::awaitable<void> ensure_topic(std::string topic);
  bool topic_ready(std::string_view topic);  // the strategy was applied
  asio::awaitable<publish_result> produce(kafka::outgoing_record r);
  kafka_group_consumer& group(const std::string& name);

  // Ends the publishes still waiting for the producer: purges what it holds until no use is
  // left. Closing thread.
  void purge_until_unused();

  backend_context context_;
  const kafka_config& cfg_;
  std::unique_ptr<kafka::embedded_cluster> cluster_;
  std::string bootstrap_;
  std::unique_ptr<kafka::producer> producer_;
  record_limits limits_;
  // Every use of the producer (a publish, a topic check) holds it, so that shutdown() destroys
  // the producer only after the last; closed when shutdown() begins.
  gate producer_uses_;
  task_scope reports_;   // the producer's delivery reports
  task_scope fetchers_;  // every group's fetch and commit loops

  std::mutex groups_mutex_;
  std::map<std::string, std::unique_ptr<kafka_group_consumer>> groups_;

  std::shared_mutex topics_mutex_;
  std::set<std::string, std::less<>> ready_topics_;  // the topic strategy was applied
};

}  // namespace corobus::detail
