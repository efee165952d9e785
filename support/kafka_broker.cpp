#include <corobus/support/kafka_broker.hpp>

#include <corobus/runtime/error.hpp>
#include <corobus/runtime/free_port.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <librdkafka/rdkafka.h>
#include <boost/system/system_error.hpp>

#include <unistd.h>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <future>

namespace corobus::support {
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
  if (opts_.nodes != 1 && opts_.nodes != 3) throw_error(errc::invalid_config, "a test broker has 1 or 3 nodes");
  auto pattern = (std::filesystem::temp_directory_path() / "corobus-kafka-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw boost::system::system_error(errno, boost::system::system_category(), "mkdtemp for the Kafka log");
  dir_ = pattern;
  nodes_.resize(static_cast<std::size_t>(opts_.nodes));
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto& n = nodes_[i];
    n.id = static_cast<int>(i) + 1;
    n.port = free_loopback_port();
    n.controller_port = free_loopback_port();
    if (!opts_.plain_users.empty()) n.sasl_port = free_loopback_port();
    n.dir = dir_ / fmt::format("node-{}", n.id);
  }
  try {
    for (const auto& n : nodes_) {
      std::filesystem::create_directories(n.dir);
      write_config(n);
      auto format = java("kafka.tools.StorageTool");
      format.insert(format.end(), {"format", "--cluster-id", "MkU3OEVBNTcwNTJENDM2Qk", "--config",
                                   (n.dir / "server.properties").string()});
      child_process::options o;
      o.name = "kafka-storage-format";
      o.run_to_exit = true;
      o.start_timeout = std::chrono::seconds(60);
      child_process(std::move(format), {}, std::move(o));
    }
    // At once: a node of a quorum says it started only once the others answer.
    std::vector<std::future<void>> started;
    for (auto& n : nodes_) started.push_back(std::async(std::launch::async, [this, &n] { start(n); }));
    for (auto& s : started) s.get();
    wait_until_answering();
  } catch (...) {
    for (const auto& n : nodes_) kill(n.id);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

void kafka_broker::write_config(const node& n) const {
  std::vector<std::string> voters;
  for (const auto& other : nodes_) voters.push_back(fmt::format("{}@127.0.0.1:{}", other.id, other.controller_port));
  const std::string sasl_listener =
      opts_.plain_users.empty() ? "" : fmt::format(",SASL_PLAINTEXT://127.0.0.1:{}", n.sasl_port);
  const int replicas = nodes();
  std::ofstream out(n.dir / "server.properties");
  out << "process.roles=broker,controller\n"
      << "node.id=" << n.id << "\n"
      << fmt::format("controller.quorum.voters={}\n", fmt::join(voters, ","))
      << fmt::format("listeners=PLAINTEXT://127.0.0.1:{}{},CONTROLLER://127.0.0.1:{}\n", n.port, sasl_listener,
                     n.controller_port)
      << fmt::format("advertised.listeners=PLAINTEXT://127.0.0.1:{}{}\n", n.port, sasl_listener)
      << "controller.listener.names=CONTROLLER\n"
      << "inter.broker.listener.name=PLAINTEXT\n"
      << "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT\n"
      << "log.dirs=" << (n.dir / "log").string()
      << "\n"
      // The internal topics on every node (with one node, without it groups never work).
      << "offsets.topic.replication.factor=" << replicas << "\n"
      << "offsets.topic.num.partitions=1\n"
      << "transaction.state.log.replication.factor=" << replicas << "\n"
      << "transaction.state.log.min.isr=1\n"
      << "share.coordinator.state.topic.replication.factor=" << replicas << "\n"
      << "share.coordinator.state.topic.min.isr=1\n"
      << "group.initial.rebalance.delay.ms=0\n";
  // A killed node is noticed and its partitions led elsewhere within seconds, not the
  // defaults' tens of seconds (about 3 s of stalled partitions, measured); a node restarted
  // alone registers again sooner.
  out << "broker.session.timeout.ms=2000\n"
      << "broker.heartbeat.interval.ms=500\n";
  if (replicas > 1)
    out << "controller.quorum.fetch.timeout.ms=1000\n"
        << "controller.quorum.election.timeout.ms=500\n"
        << "leader.imbalance.check.interval.seconds=5\n";
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

kafka_broker::~kafka_broker() {
  // kill -9: a broker's orderly shutdown takes seconds and, without its quorum, may hang.
  for (const auto& n : nodes_) kill(n.id);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string kafka_broker::bootstrap() const {
  std::vector<std::string> all;
  for (const auto& n : nodes_) all.push_back(fmt::format("127.0.0.1:{}", n.port));
  return fmt::format("{}", fmt::join(all, ","));
}

std::string kafka_broker::sasl_bootstrap() const {
  std::vector<std::string> all;
  for (const auto& n : nodes_) all.push_back(fmt::format("127.0.0.1:{}", n.sasl_port));
  return fmt::format("{}", fmt::join(all, ","));
}

void kafka_broker::start(node& n) {
  auto args = java("kafka.Kafka");
  args.push_back((n.dir / "server.properties").string());
  child_process::options o;
  o.name = fmt::format("kafka-{}", n.id);
  o.start_timeout = std::chrono::seconds(60);
  n.process = std::make_unique<child_process>(
      std::move(args),
      [](std::string_view line) { return line.find("Kafka Server started") != std::string_view::npos; }, std::move(o));
}

pid_t kafka_broker::pid(int node) const {
  const auto& n = nodes_.at(static_cast<std::size_t>(node - 1));
  return n.process ? n.process->pid() : 0;
}

void kafka_broker::kill(int node) {
  auto& n = nodes_.at(static_cast<std::size_t>(node - 1));
  if (n.process) n.process->kill();
  n.process.reset();
}

void kafka_broker::restart(int node) {
  kill(node);
  start(nodes_.at(static_cast<std::size_t>(node - 1)));
  wait_until_answering();
}

void kafka_broker::wait_until_answering() const {
  // "Kafka Server started" comes before the listeners take requests on every path: a
  // metadata request answered is the proof. One call, which waits for a connection itself.
  std::array<char, 512> error{};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap().c_str(), error.data(), error.size());
  rd_kafka_conf_set(conf, "log_level", "0", error.data(), error.size());  // its connection refusals meanwhile
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> client(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error.data(), error.size()), &rd_kafka_destroy);
  if (!client) throw_error(errc::broker_error, fmt::format("a client for the Kafka test broker: {}", error.data()));
  const rd_kafka_metadata_t* metadata = nullptr;
  if (const auto err = rd_kafka_metadata(client.get(), 0, nullptr, &metadata, 60'000))
    throw_error(errc::broker_error, fmt::format("the Kafka test broker ({}) did not answer within 60 s: {}",
                                                bootstrap(), rd_kafka_err2str(err)));
  rd_kafka_metadata_destroy(metadata);
}

std::string kafka_broker::shared_bootstrap() {
  if (const char* dir = std::getenv("COROBUS_KAFKA_SHARED_BROKER"); dir && *dir) {
    std::ifstream in(std::filesystem::path(dir) / "bootstrap");
    std::string bootstrap;
    if (!(in >> bootstrap))
      throw_error(errc::broker_error, fmt::format("the test run's Kafka broker is not running: no {}/bootstrap "
                                                  "(did its ctest fixture, kafka_broker/start, fail?)",
                                                  dir));
    return bootstrap;
  }
  static kafka_broker broker;
  return broker.bootstrap();
}

}  // namespace corobus::support
