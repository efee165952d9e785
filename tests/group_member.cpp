// A consumer-group member in a process of its own, for the tests that close, pause and kill
// one (kafka_bus/two_processes_in_one_group_..., nats_bus/partitioned_...). It subscribes to
// a topic in a group and, for every envelope it handled, appends
// "<aggregate> <version> <started> <finished>" (CLOCK_MONOTONIC nanoseconds, the clock the
// test's std::chrono::steady_clock reads) to a file with one write(2): a line is in the file
// as soon as its handler finished, whatever happens to the process next. SIGTERM closes the
// bus and exits 0; SIGKILL is the crash under test. A nats:// URL in place of the bootstrap
// servers makes it a member on NATS; nats:embedded, one on its own embedded server.
//   corobus_group_member <bootstrap | nats://...> <topic> <group> <output file> <max_in_flight>
//                        [--partitions N] [--lease-ttl-ms T] [--replicas R]   (NATS)
#include <corobus/awaitables/kafka/embedded_cluster.hpp>
#include <corobus/corobus.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

using namespace corobus;

int main(int argc, char** argv) {
  if (argc < 6 || argc % 2 != 0) {
    std::fprintf(stderr,
                 "usage: %s <bootstrap> <topic> <group> <output file> <max_in_flight> "
                 "[--partitions N] [--lease-ttl-ms T] [--replicas R]\n",
                 argv[0]);
    return 2;
  }
  int partitions = 0, replicas = 1;
  long lease_ttl_ms = 0;
  for (int i = 6; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--partitions")
      partitions = std::stoi(argv[i + 1]);
    else if (flag == "--lease-ttl-ms")
      lease_ttl_ms = std::stol(argv[i + 1]);
    else if (flag == "--replicas")
      replicas = std::stoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const std::string topic = argv[2];
  const int out = ::open(argv[4], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) {
    std::perror(argv[4]);
    return 2;
  }
  // SIGTERM is taken by sigwait() below, so it must be blocked in every thread: block it
  // before the bus starts any.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  spdlog::set_level(std::getenv("COROBUS_TEST_LOG") ? spdlog::level::debug : spdlog::level::warn);

  config cfg;
  cfg.io_threads = 2;
  if (std::string_view(argv[1]).starts_with("nats:")) {  // nats://..., or nats:embedded
    cfg.backend = backend_kind::nats;
    cfg.nats.url = std::string_view(argv[1]) == "nats:embedded" ? "embedded" : argv[1];
    cfg.nats.max_in_flight = std::stoul(argv[5]);
    // What a killed member held is delivered again once this passed, to whoever pulls next.
    cfg.nats.ack_wait = std::chrono::milliseconds(2000);
    cfg.nats.partitions = partitions;
    cfg.nats.replicas = replicas;
    if (lease_ttl_ms > 0) cfg.nats.lease_ttl = std::chrono::milliseconds(lease_ttl_ms);
  } else {
    cfg.backend = backend_kind::kafka;
    cfg.kafka.bootstrap = argv[1];
    cfg.kafka.topics = topic_strategy::skip;  // the test made them
    cfg.kafka.consumer_properties = kafka::embedded_cluster::consumer_properties();
    cfg.kafka.commit_interval = std::chrono::milliseconds(100);
    cfg.kafka.max_in_flight = std::stoul(argv[5]);
  }
  bus b(cfg);
  const auto handle = [out](const envelope& e) -> asio::awaitable<void> {
    const auto started = std::chrono::steady_clock::now().time_since_epoch();
    asio::steady_timer work(co_await asio::this_coro::executor, std::chrono::microseconds(100));
    co_await work.async_wait(asio::use_awaitable);
    const auto finished = std::chrono::steady_clock::now().time_since_epoch();
    const auto line =
        fmt::format("{} {} {} {}\n", e.aggregate_id, e.event_version, std::chrono::nanoseconds(started).count(),
                    std::chrono::nanoseconds(finished).count());
    if (::write(out, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      throw std::runtime_error("write failed");
  };
  // A few tries: on a cluster that shares two cores with the test, a stream lookup made while
  // subscribing can time out (a fresh clone's run saw `replicated_dlq` do so).
  for (int attempt = 1;; ++attempt) {
    try {
      asio::co_spawn(
          b.get_executor(),
          [&]() -> asio::awaitable<void> {
            co_await b.async_subscribe_envelopes(topic, handle, subscribe_options(argv[3]));
          },
          asio::use_future)
          .get();
      break;
    } catch (const boost::system::system_error& e) {
      if (attempt == 5 || e.code() == errc::invalid_config || e.code() == errc::invalid_topic) throw;
      spdlog::warn("subscribing failed ({}); trying again", e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }

  int signal = 0;
  sigwait(&term, &signal);
  b.close();
  ::close(out);
  return 0;
}
