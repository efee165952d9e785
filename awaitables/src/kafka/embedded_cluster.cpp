#include <corobus/awaitables/kafka/config.hpp>
#include <corobus/awaitables/kafka/embedded_cluster.hpp>
#include <corobus/awaitables/kafka/error.hpp>
#include <corobus/runtime/error.hpp>

#include <fmt/format.h>

#include <vector>

namespace corobus::kafka {

embedded_cluster::embedded_cluster(int brokers) : brokers_(brokers) {
  if (brokers < 1 || brokers > 32) throw_error(errc::invalid_config, "an embedded cluster has 1 to 32 brokers");
  // The host client must not try to reach any broker of its own.
  host_ = make_client(RD_KAFKA_PRODUCER, make_conf({{"bootstrap.servers", ""}, {"log_level", "3"}}));
  cluster_ = rd_kafka_mock_cluster_new(host_.get(), brokers);
  if (!cluster_) throw_error(errc::broker_error, "the embedded Kafka cluster could not start");
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

properties embedded_cluster::consumer_properties() {
  // 6 s: shorter made the mock's joins fail in tests; 500 ms heartbeats still tell a member
  // of a pending rebalance soon. 10 ms fetch waits: see the header.
  return {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}, {"fetch.wait.max.ms", "10"}};
}

embedded_cluster::~embedded_cluster() {
  rd_kafka_mock_cluster_destroy(cluster_);
  host_.reset();
}

void embedded_cluster::create_topic(const std::string& topic, int partitions, int replication) {
  throw_if(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, replication),
           fmt::format("creating topic '{}' on the embedded cluster", topic));
  // The mock picks each partition's leader at random: a topic could have all its partitions
  // on one broker, so what a broker outage stops, and how the load spreads, would change from
  // run to run. Leaders go round the brokers instead, as Kafka places them.
  for (int p = 0; p < partitions; ++p)
    throw_if(rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), p, 1 + p % brokers_),
             fmt::format("placing the leader of '{}' [{}] on the embedded cluster", topic, p));
}

void embedded_cluster::broker_down(std::int32_t broker_id) {
  throw_if(rd_kafka_mock_broker_set_down(cluster_, broker_id), fmt::format("taking broker {} down", broker_id));
}

void embedded_cluster::broker_up(std::int32_t broker_id) {
  throw_if(rd_kafka_mock_broker_set_up(cluster_, broker_id), fmt::format("bringing broker {} up", broker_id));
}

void embedded_cluster::fail_requests(std::int16_t api, std::size_t count, rd_kafka_resp_err_t error) {
  std::vector<rd_kafka_resp_err_t> errors(count, error);
  rd_kafka_mock_push_request_errors_array(cluster_, api, errors.size(), errors.data());
}

}  // namespace corobus::kafka
