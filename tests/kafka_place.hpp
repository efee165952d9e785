#pragma once
// Where a Kafka case's topics live, so that a case is written once, as a template over its
// Place, and runs on both:
// - mock_place: librdkafka's mock cluster of `brokers`, made for the case (the embedded
//   default, and the only one that injects faults);
// - broker_place: the real Apache Kafka broker the test run shares (one node, whatever
//   `brokers` says), cleared of what earlier cases left.
#include "raw_kafka.hpp"

#include <corobus/awaitables/kafka/embedded_cluster.hpp>
#include <corobus/support/kafka_broker.hpp>

#include <string>

namespace corobus::test {

struct mock_place {
  explicit mock_place(int brokers) : cluster(brokers) {}
  std::string bootstrap() const { return cluster.bootstrap_servers(); }
  void create_topic(const std::string& topic, int partitions) { cluster.create_topic(topic, partitions); }
  kafka::embedded_cluster cluster;
};

struct broker_place {
  explicit broker_place(int /*brokers*/) { clear_broker(bootstrap_); }
  std::string bootstrap() const { return bootstrap_; }
  void create_topic(const std::string& topic, int partitions) { create_topics(bootstrap_, {topic}, partitions); }

 private:
  std::string bootstrap_ = support::kafka_broker::shared_bootstrap();
};

}  // namespace corobus::test
