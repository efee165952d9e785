#pragma once
// An embedded Kafka cluster: librdkafka's mock cluster, which speaks the Kafka protocol on
// real loopback sockets (produce, fetch, consumer groups, commits), so tests and examples
// run on a fresh machine with no broker. Any Kafka client can use bootstrap_servers().
//
// Limits of this librdkafka's (2.0.2) mock, found by test:
//  - a consumer group's first join waits about 3 s, and a member rejoins only after its
//    session.timeout.ms: reuse group ids and keep session timeouts short;
//  - a partition keeps only about 5 MB: older record batches are dropped, so a large volume
//    published long before it is consumed may be gone (the log start offset moves);
//  - commits are refused (REBALANCE_IN_PROGRESS) as soon as a rebalance is pending;
//  - a fetch that finds no data is answered only after fetch.wait.max.ms, even when records
//    arrive meanwhile: with the default 500 ms a consumer that catches up stalls for half
//    a second each time;
//  - there is no admin API (CreateTopics times out): create_topic() makes topics.
#include <corobus/awaitables/kafka/config.hpp>
#include <corobus/awaitables/kafka/handles.hpp>

#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <string>

namespace corobus::kafka {

class embedded_cluster {
 public:
  // Starts `brokers` brokers (ids 1..brokers) on 127.0.0.1, each on a free port.
  explicit embedded_cluster(int brokers = 3);
  // Stops the brokers and joins their threads: not on an io thread.
  ~embedded_cluster();

  embedded_cluster(const embedded_cluster&) = delete;
  embedded_cluster& operator=(const embedded_cluster&) = delete;

  const std::string& bootstrap_servers() const noexcept { return bootstraps_; }
  // Consumer properties that work around the limits above: short session timeouts and
  // heartbeats (quick rejoins, refused commits learnt of early), short fetch waits.
  static properties consumer_properties();
  int brokers() const noexcept { return brokers_; }

  // Partition p is led by broker 1 + p % brokers().
  void create_topic(const std::string& topic, int partitions, int replication = 1);
  void broker_down(std::int32_t broker_id);
  void broker_up(std::int32_t broker_id);
  // The next `count` requests of `api` (RD_KAFKAP_Produce = 0, Fetch = 1, ...) fail with `error`.
  void fail_requests(std::int16_t api, std::size_t count, rd_kafka_resp_err_t error);

 private:
  client_ptr host_;  // the mock cluster lives inside a client instance
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
  int brokers_;
};

}  // namespace corobus::kafka
