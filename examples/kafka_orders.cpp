// corobus on Kafka: the order service (order_service.hpp) on the embedded cluster, so there
// is no broker to install. Offsets are committed only past handled or dead-lettered events.
// Point `bootstrap` at a real cluster (and pass any librdkafka property through `properties`)
// and the same code runs there.
#include "example.hpp"
#include "order_service.hpp"

int main(int argc, char** argv) {
  corobus::config cfg;
  cfg.backend = corobus::backend_kind::kafka;
  cfg.kafka.bootstrap = "embedded";  // 3 brokers in this process; topics get 6 partitions
  cfg.retry.initial_backoff = std::chrono::milliseconds(5);
  cfg = example::config_from(argc, argv, cfg);
  const auto title =
      fmt::format("kafka_orders: Kafka backend on {}",
                  cfg.kafka.bootstrap == "embedded" ? std::string("the embedded cluster") : cfg.kafka.bootstrap);
  return run_order_service(cfg, title.c_str(), [](corobus::bus&) {});
}
