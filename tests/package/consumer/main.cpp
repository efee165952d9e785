// One envelope through each backend of the corobus it was built against; a backend that
// build left out must be refused with invalid_config. Exit status 0 when all of that held.
#include <corobus/corobus.hpp>

#include <boost/asio/use_future.hpp>

#include <cstdio>
#include <cstring>
#include <future>
#include <string>

namespace asio = boost::asio;

namespace {

bool round_trip(corobus::config cfg, const char* name) {
  corobus::bus bus(cfg);
  std::promise<std::string> got;
  asio::co_spawn(
      bus.get_executor(),
      [&]() -> asio::awaitable<void> {
        co_await bus.async_subscribe_envelopes("greetings", [&](const corobus::envelope& e) -> asio::awaitable<void> {
          got.set_value(e.event_type);
          co_return;
        });
        co_await bus.async_publish_envelope("greetings", corobus::envelope::make("hello-1", "Greeted", 1, "{}"));
      },
      asio::use_future)
      .get();
  auto seen = got.get_future();
  const bool ok = seen.wait_for(std::chrono::seconds(60)) == std::future_status::ready && seen.get() == "Greeted";
  bus.close();
  std::printf("%s: %s\n", name, ok ? "delivered" : "NOT delivered");
  return ok;
}

bool refused(corobus::config cfg, const char* name) {
  try {
    corobus::bus bus(cfg);
  } catch (const boost::system::system_error& e) {
    const bool ok = e.code() == corobus::errc::invalid_config && std::strstr(e.what(), "not built") != nullptr;
    std::printf("%s: refused (%s)\n", name, e.what());
    return ok;
  }
  std::printf("%s: NOT refused\n", name);
  return false;
}

}  // namespace

// argv[1], argv[2]: whether the kafka and nats backends are expected ("1") or not ("0").
int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: consumer <kafka 0|1> <nats 0|1>\n");
    return 2;
  }
  bool ok = round_trip(corobus::config{}, "memory");
  corobus::config kafka;
  kafka.backend = corobus::backend_kind::kafka;  // kafka.bootstrap "embedded": librdkafka's mock cluster
  ok = (std::string(argv[1]) == "1" ? round_trip(kafka, "kafka") : refused(kafka, "kafka")) && ok;
  corobus::config nats;
  nats.backend = corobus::backend_kind::nats;  // nats.url "embedded": a nats-server of its own
  ok = (std::string(argv[2]) == "1" ? round_trip(nats, "nats") : refused(nats, "nats")) && ok;
  return ok ? 0 : 1;
}
