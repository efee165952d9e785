// The embedded NATS server: a real nats-server child process on a free loopback port, with a
// store of its own, that stops, is killed, restarts and fails clearly.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <corobus/awaitables/nats/embedded_server.hpp>
#include <corobus/runtime/error.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>

using namespace corobus;
using namespace corobus::test;

namespace {

// What a NATS server sends first on a new connection ("INFO {...}"), or what failed.
std::string first_line_from(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval five{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string line;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    line = "connect failed";
  } else {
    char c;
    while (::recv(fd, &c, 1, 0) == 1 && c != '\n') line += c;
  }
  ::close(fd);
  return line;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

BOOST_AUTO_TEST_SUITE(nats_server, *boost::unit_test::label("nats"))

BOOST_AUTO_TEST_CASE(an_embedded_server_answers_on_its_port_and_stops_leaving_nothing) {
  const auto threads_before = thread_count();
  const auto fds_before = descriptor_count();
  pid_t pid = 0;
  std::filesystem::path store;
  {
    nats::embedded_server server;
    pid = server.pid();
    store = server.store_dir();
    BOOST_TEST(pid > 0);
    BOOST_TEST(server.port() > 0);
    BOOST_TEST(server.url() == "nats://127.0.0.1:" + std::to_string(server.port()));
    BOOST_TEST(std::filesystem::is_directory(store));
    const auto info = first_line_from(server.port());
    BOOST_TEST(info.rfind("INFO {", 0) == 0u);
    // The nats_current entries name the server they put first in PATH: it is the one running.
    if (const char* version = std::getenv("COROBUS_EXPECTED_NATS_SERVER"))
      BOOST_TEST(info.find(std::string("\"version\":\"") + version + "\"") != std::string::npos, info);
  }
  BOOST_TEST(!process_exists(pid));  // stopped and reaped
  BOOST_TEST(!std::filesystem::exists(store));
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
  BOOST_TEST(descriptor_count() == fds_before);
}

BOOST_AUTO_TEST_CASE(a_killed_server_restarts_on_its_port_and_store) {
  nats::embedded_server server;
  const auto port = server.port();
  const auto first = server.pid();
  server.kill();
  BOOST_TEST(!process_exists(first));
  BOOST_TEST(first_line_from(port) == "connect failed");
  server.restart();
  BOOST_TEST(server.port() == port);
  BOOST_TEST(server.pid() != first);
  BOOST_TEST(first_line_from(port).rfind("INFO {", 0) == 0u);
  BOOST_TEST(std::filesystem::is_directory(server.store_dir() / "jetstream"));  // what JetStream keeps
  server.stop();
  server.stop();  // idempotent
  BOOST_TEST(server.pid() == 0);
}

BOOST_AUTO_TEST_CASE(a_server_that_cannot_start_fails_clearly_in_bounded_time) {
  const auto fds_before = descriptor_count();
  nats::embedded_server::options bad_flag;
  bad_flag.extra_args = {"--no-such-flag"};
  const auto start = std::chrono::steady_clock::now();
  try {
    nats::embedded_server server(bad_flag);
    BOOST_FAIL("a bad flag started a server");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == errc::broker_error));
    BOOST_TEST(std::string(e.what()).find("no-such-flag") != std::string::npos, e.what());
  }
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));

  nats::embedded_server::options missing;
  missing.executable = "no-such-nats-server";
  try {
    nats::embedded_server server(missing);
    BOOST_FAIL("a missing executable started a server");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == errc::invalid_config));
    BOOST_TEST(std::string(e.what()).find("no-such-nats-server") != std::string::npos, e.what());
  }
  BOOST_TEST(descriptor_count() == fds_before);
}

BOOST_AUTO_TEST_SUITE_END()
