#pragma once
// The bus configuration the NATS suites share.
#include <corobus/corobus.hpp>

#include <chrono>
#include <string>

namespace corobus::test {

// A bus on the servers at `url`, with quick retries and short waits for the fault tests.
inline config nats_bus_config(const std::string& url) {
  config cfg;
  cfg.backend = backend_kind::nats;
  cfg.io_threads = 2;
  cfg.nats.url = url;
  // Short enough that a publish lost in an outage is tried again soon, long enough for stream
  // and consumer requests (bounded by it too) on a loaded machine: 2 s failed there once.
  cfg.nats.publish_timeout = std::chrono::milliseconds(5000);
  cfg.nats.reconnect_wait = std::chrono::milliseconds(100);
  cfg.nats.ack_wait = std::chrono::milliseconds(2000);  // what a lost ack held comes again soon
  cfg.retry = retry_policy{3, std::chrono::milliseconds(1), std::chrono::milliseconds(4)};
  return cfg;
}

}  // namespace corobus::test
