#include <corobus/awaitables/kafka/config.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/log.hpp>

#include <fmt/format.h>

#include <array>

namespace corobus::kafka {
namespace {

void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  std::array<char, 512> error{};
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error.data(), error.size()) != RD_KAFKA_CONF_OK)
    throw_error(errc::invalid_config, fmt::format("invalid Kafka property {}={}: {}", name, value, error.data()));
}

// librdkafka writes its log lines to stderr itself unless told otherwise; they go to our
// logger instead (from librdkafka's threads: spdlog loggers are thread-safe). Levels are
// syslog's: 0 emergency ... 7 debug.
void forward_log(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  const auto lvl = level <= 2   ? spdlog::level::critical
                   : level == 3 ? spdlog::level::err
                   : level == 4 ? spdlog::level::warn
                   : level <= 6 ? spdlog::level::info
                                : spdlog::level::debug;
  log().log(lvl, "librdkafka {} {}: {}", rd_kafka_name(rk), facility, text);
}

}  // namespace

conf_ptr make_conf(const properties& base, const properties& overrides) {
  conf_ptr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), forward_log);
  // Nagle off: our requests are awaited one round trip at a time, and Nagle's algorithm with
  // the peer's delayed ACK stalls such an exchange for tens of milliseconds at random (seen
  // as publishes running at half speed in one benchmark run and full speed in the next).
  set(conf.get(), "socket.nagle.disable", "true");
  for (const auto& [name, value] : base) set(conf.get(), name, value);
  for (const auto& [name, value] : overrides) set(conf.get(), name, value);
  return conf;
}

client_ptr make_client(rd_kafka_type_t type, conf_ptr conf) {
  std::array<char, 512> error{};
  client_ptr client(rd_kafka_new(type, conf.get(), error.data(), error.size()));
  if (!client) throw_error(errc::invalid_config, fmt::format("cannot create the Kafka client: {}", error.data()));
  conf.release();  // rd_kafka_new took it
  return client;
}

}  // namespace corobus::kafka
