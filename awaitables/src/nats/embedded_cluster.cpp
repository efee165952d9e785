#include <corobus/awaitables/nats/embedded_cluster.hpp>

#include <fmt/format.h>
#include <boost/system/system_error.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corobus::nats {
namespace {

// A port free on 127.0.0.1 now (bound to port 0, read, released).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int e = errno;
    if (fd >= 0) ::close(fd);
    throw boost::system::system_error(e, boost::system::system_category(), "finding a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

embedded_cluster::embedded_cluster(int nodes) {
  std::vector<int> route_ports;
  for (int i = 0; i < nodes; ++i) route_ports.push_back(free_port());
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
