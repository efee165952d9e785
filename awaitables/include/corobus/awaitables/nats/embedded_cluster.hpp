#pragma once
// A JetStream cluster of embedded servers on loopback, for tests of replicated streams and
// failover: each node is an embedded_server (its own client port and store) with a unique
// server name, one cluster name, and routes to every node. Route ports are picked free
// (bound and released) just before the nodes start: a port taken by someone else in between
// fails the start clearly. A node can be killed (kill -9) and restarted on its store.
#include <corobus/awaitables/nats/embedded_server.hpp>

#include <memory>
#include <string>
#include <vector>

namespace corobus::nats {

class embedded_cluster {
 public:
  explicit embedded_cluster(int nodes = 3);

  int size() const noexcept { return static_cast<int>(nodes_.size()); }
  embedded_server& node(int i) { return *nodes_.at(static_cast<std::size_t>(i)); }
  // Every node's client URL, comma-separated (what a client's url takes to fail over).
  std::string urls() const;

 private:
  std::vector<std::unique_ptr<embedded_server>> nodes_;
};

}  // namespace corobus::nats
