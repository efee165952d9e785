#pragma once
// A real Apache Kafka broker for the tests, as nats::embedded_server is a real nats-server:
// one KRaft node (broker and controller in one JVM) from the jars ./dev copies out of Maven
// Central (brokers/kafka/pom.xml), on free loopback ports with a log directory of its own.
//
// - A child_process: it dies with the test process, start waits (60 s at most) until it logs
//   "Kafka Server started", and its log (warnings, brokers/kafka/log4j2.properties) goes to
//   corobus's at debug level.
// - kill() is kill -9; restart() starts it again on the same ports and log directory (no new
//   format: the directory keeps its cluster and node ids). The destructor stops it and removes
//   the directory.
// Where the jars are: COROBUS_KAFKA_BROKER_LIBS (./dev test configures it); a build without
// them fails these tests, saying so.
#include <corobus/runtime/child_process.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace corobus::test {

class kafka_broker {
 public:
  struct options {
    options() = default;
    std::vector<std::string> properties;  // more server properties, "name=value"
    // Set: a SASL_PLAINTEXT listener besides, taking PLAIN logins of these (user, password).
    std::vector<std::pair<std::string, std::string>> plain_users;
  };

  kafka_broker();
  explicit kafka_broker(options opts);
  ~kafka_broker();
  kafka_broker(const kafka_broker&) = delete;
  kafka_broker& operator=(const kafka_broker&) = delete;

  std::string bootstrap() const;       // 127.0.0.1:<port>
  std::string sasl_bootstrap() const;  // the SASL_PLAINTEXT listener's, when plain_users is set
  void kill();
  void restart();

  // One broker for every case of a test process that only needs a broker to talk to (the
  // conformance suite): started on first use, stopped at exit.
  static kafka_broker& shared();

 private:
  void start();

  options opts_;
  std::filesystem::path dir_;
  int port_ = 0;
  int controller_port_ = 0;
  int sasl_port_ = 0;
  std::optional<child_process> process_;
};

}  // namespace corobus::test
