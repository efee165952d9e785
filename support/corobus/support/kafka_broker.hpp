#pragma once
// A real Apache Kafka broker for the tests, as nats::embedded_server is a real nats-server:
// one KRaft node (broker and controller in one JVM), or a quorum of three, from the jars ./dev
// copies out of Maven Central (brokers/kafka/pom.xml), on free loopback ports with log
// directories of their own.
//
// - Each node is a child_process: it dies with the test process, start waits (60 s at most)
//   until it logs "Kafka Server started" and then until the cluster answers a metadata request
//   through librdkafka (60 s more at most), and its log (warnings,
//   brokers/kafka/log4j2.properties) goes to corobus's at debug level.
// - kill(n) is kill -9 of node n; restart(n) starts it again on the same ports and log
//   directory (no new format: the directory keeps its cluster and node ids). The destructor
//   kills every node and removes the directories.
// Where the jars are: COROBUS_KAFKA_BROKER_LIBS (./dev test configures it); a build without
// them fails these tests, saying so.
#include <corobus/runtime/child_process.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace corobus::support {

class kafka_broker {
 public:
  struct options {
    options() = default;
    int nodes = 1;                        // 1, or 3 for a quorum that survives losing one
    std::vector<std::string> properties;  // more server properties, "name=value"
    // Set: a SASL_PLAINTEXT listener besides, taking PLAIN logins of these (user, password).
    std::vector<std::pair<std::string, std::string>> plain_users;
  };

  kafka_broker();
  explicit kafka_broker(options opts);
  ~kafka_broker();
  kafka_broker(const kafka_broker&) = delete;
  kafka_broker& operator=(const kafka_broker&) = delete;

  std::string bootstrap() const;       // 127.0.0.1:<port>[,...] of every node
  std::string sasl_bootstrap() const;  // the SASL_PLAINTEXT listener's, when plain_users is set
  int nodes() const noexcept { return static_cast<int>(nodes_.size()); }
  pid_t pid(int node = 1) const;  // its JVM's; 0 while it is not running
  // Node ids are 1..nodes().
  void kill(int node = 1);
  void restart(int node = 1);

  // The broker every case of a test run shares when it only needs a broker to talk to (the
  // conformance suite): the one ctest's fixture kafka_broker/start keeps running
  // (COROBUS_KAFKA_SHARED_BROKER names its folder), or else one this process starts on first
  // use. Cases that use it clear it first (clear_broker): it keeps what earlier cases left.
  static std::string shared_bootstrap();

 private:
  struct node {
    int id = 0;
    int port = 0;
    int controller_port = 0;
    int sasl_port = 0;
    std::filesystem::path dir;
    std::unique_ptr<child_process> process;  // (a pointer: nodes live in a vector)
  };
  void write_config(const node& n) const;
  void wait_until_answering() const;
  void start(node& n);

  options opts_;
  std::filesystem::path dir_;
  std::vector<node> nodes_;
};

}  // namespace corobus::support
