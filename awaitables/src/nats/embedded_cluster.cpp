#include <corobus/awaitables/nats/embedded_cluster.hpp>

#include <corobus/runtime/free_port.hpp>

#include <fmt/format.h>

namespace corobus::nats {

embedded_cluster::embedded_cluster(int nodes) {
  std::vector<int> route_ports;
  for (int i = 0; i < nodes; ++i) route_ports.push_back(free_loopback_port());
  std::string routes;
  for (const int p : route_ports) routes += fmt::format("{}nats://127.0.0.1:{}", routes.empty() ? "" : ",", p);
  for (int i = 0; i < nodes; ++i) {
    embedded_server::options o;
    o.extra_args = {"--server_name",  fmt::format("corobus-{}", i),
                    "--cluster_name", "corobus",
                    "--cluster",      fmt::format("nats://127.0.0.1:{}", route_ports[static_cast<std::size_t>(i)]),
                    "--routes",       routes};
    nodes_.push_back(std::make_unique<embedded_server>(std::move(o)));
  }
}

std::string embedded_cluster::urls() const {
  std::string all;
  for (const auto& n : nodes_) all += (all.empty() ? "" : ",") + n->url();
  return all;
}

}  // namespace corobus::nats
