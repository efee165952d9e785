#include "kafka_broker.hpp"

#include <corobus/runtime/error.hpp>
#include <corobus/runtime/free_port.hpp>

#include <fmt/format.h>
#include <boost/system/system_error.hpp>

#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <fstream>

namespace corobus::test {
namespace {

std::string libs() {
  const char* dir = std::getenv("COROBUS_KAFKA_BROKER_LIBS");
  if (!dir || !*dir || !std::filesystem::exists(std::filesystem::path(dir) / ".complete"))
    throw_error(errc::invalid_config,
                "no Apache Kafka jars (COROBUS_KAFKA_BROKER_LIBS): ./dev test copies them from Maven Central");
  return dir;
}

std::vector<std::string> java(const std::string& main_class) {
  return {find_executable("java", "the Kafka test broker needs Java 17 (./dev installs openjdk-17-jre-headless)"),
          "-Xms128m",
          "-Xmx384m",
          "-XX:+UseSerialGC",
          "-XX:TieredStopAtLevel=1",  // starts sooner; the broker's speed is not what is tested
          "-Dlog4j2.configurationFile=" COROBUS_KAFKA_LOG_CONFIG,
          "-cp",
          libs() + "/*",
          main_class};
}

}  // namespace

kafka_broker::kafka_broker() : kafka_broker(options{}) {}

kafka_broker::kafka_broker(options opts) : opts_(std::move(opts)) {
  auto pattern = (std::filesystem::temp_directory_path() / "corobus-kafka-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw boost::system::system_error(errno, boost::system::system_category(), "mkdtemp for the Kafka log");
  dir_ = pattern;
  port_ = free_loopback_port();
  controller_port_ = free_loopback_port();
  std::string sasl_listener;
  if (!opts_.plain_users.empty()) {
    sasl_port_ = free_loopback_port();
    sasl_listener = fmt::format(",SASL_PLAINTEXT://127.0.0.1:{}", sasl_port_);
  }
  const auto config = dir_ / "server.properties";
  {
    std::ofstream out(config);
    out << "process.roles=broker,controller\n"
        << "node.id=1\n"
        << fmt::format("controller.quorum.voters=1@127.0.0.1:{}\n", controller_port_)
        << fmt::format("listeners=PLAINTEXT://127.0.0.1:{}{},CONTROLLER://127.0.0.1:{}\n", port_, sasl_listener,
                       controller_port_)
        << fmt::format("advertised.listeners=PLAINTEXT://127.0.0.1:{}{}\n", port_, sasl_listener)
        << "controller.listener.names=CONTROLLER\n"
        << "inter.broker.listener.name=PLAINTEXT\n"
        << "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT\n"
        << "log.dirs=" << (dir_ / "log").string()
        << "\n"
        // One node: every internal topic with one replica (without it groups never work).
        << "offsets.topic.replication.factor=1\n"
        << "offsets.topic.num.partitions=1\n"
        << "transaction.state.log.replication.factor=1\n"
        << "transaction.state.log.min.isr=1\n"
        << "share.coordinator.state.topic.replication.factor=1\n"
        << "share.coordinator.state.topic.min.isr=1\n"
        << "group.initial.rebalance.delay.ms=0\n";
    if (!opts_.plain_users.empty()) {
      // (SCRAM would be the better test, but librdkafka 2.0.2's SCRAM fails against Kafka 4:
      // docs/kafka.md.)
      out << "sasl.enabled.mechanisms=PLAIN\n"
          << "listener.name.sasl_plaintext.plain.sasl.jaas.config="
             "org.apache.kafka.common.security.plain.PlainLoginModule required";
      for (const auto& [user, password] : opts_.plain_users) out << fmt::format(" user_{}=\"{}\"", user, password);
      out << ";\n";
    }
    for (const auto& p : opts_.properties) out << p << "\n";
  }
  try {
    auto format = java("kafka.tools.StorageTool");
    format.insert(format.end(), {"format", "--cluster-id", "MkU3OEVBNTcwNTJENDM2Qk", "--config", config.string()});
    child_process::options o;
    o.name = "kafka-storage-format";
    o.run_to_exit = true;
    o.start_timeout = std::chrono::seconds(60);
    child_process(std::move(format), {}, std::move(o));
    start();
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

kafka_broker::~kafka_broker() {
  // kill -9: a broker's orderly shutdown takes seconds and, without its quorum, may hang.
  kill();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string kafka_broker::bootstrap() const { return fmt::format("127.0.0.1:{}", port_); }
std::string kafka_broker::sasl_bootstrap() const { return fmt::format("127.0.0.1:{}", sasl_port_); }

void kafka_broker::start() {
  auto args = java("kafka.Kafka");
  args.push_back((dir_ / "server.properties").string());
  child_process::options o;
  o.name = "kafka";
  o.start_timeout = std::chrono::seconds(60);
  process_.emplace(
      std::move(args),
      [](std::string_view line) { return line.find("Kafka Server started") != std::string_view::npos; }, std::move(o));
}

void kafka_broker::kill() {
  if (process_) process_->kill();
  process_.reset();
}

void kafka_broker::restart() {
  kill();
  start();
}

kafka_broker& kafka_broker::shared() {
  static kafka_broker broker;
  return broker;
}

}  // namespace corobus::test
