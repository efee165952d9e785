#include <corobus/awaitables/kafka/config.hpp>
#include <corobus/runtime/error.hpp>

#include <fmt/format.h>

#include <array>

namespace corobus::kafka {
namespace {

void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  std::array<char, 512> error{};
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error.data(), error.size()) != RD_KAFKA_CONF_OK)
    throw_error(errc::invalid_config, fmt::format("invalid Kafka property {}={}: {}", name, value, error.data()));
}

}  // namespace

conf_ptr make_conf(const properties& base, const properties& overrides) {
  conf_ptr conf(rd_kafka_conf_new());
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
