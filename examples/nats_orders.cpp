// corobus on NATS JetStream: the order service (order_service.hpp) on the embedded server, a
// nats-server child process of the bus (./dev installs it) with a store directory of its own,
// removed again on close. "orders" and "orders.dlq" become the streams orders and orders_dlq;
// the group is a durable pull consumer, and each event is acknowledged only once it was
// handled or dead-lettered. Point `url` at your servers (and fill `security` with credentials
// and TLS files) and the same code runs there.
#include "example.hpp"
#include "order_service.hpp"

int main(int argc, char** argv) {
  corobus::config cfg;
  cfg.backend = corobus::backend_kind::nats;
  cfg.nats.url = "embedded";  // or "nats://host1:4222,nats://host2:4222"
  cfg.retry.initial_backoff = std::chrono::milliseconds(5);
  return run_order_service(
      example::config_from(argc, argv, cfg), "nats_orders: NATS JetStream backend on the embedded server",
      [](corobus::bus& b) { fmt::print("corobus nats_orders: connected to {}\n", b.connection().server); });
}
