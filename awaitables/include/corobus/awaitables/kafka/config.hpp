#pragma once
// librdkafka configuration from name/value pairs: any client property (bootstrap.servers,
// security.protocol, sasl.*, ...) passes through; a bad name or value is an
// errc::invalid_config error that quotes librdkafka's reason.
#include <corobus/awaitables/kafka/handles.hpp>

#include <map>
#include <string>

namespace corobus::kafka {

using properties = std::map<std::string, std::string>;

// `base` first, then `overrides` (later wins).
conf_ptr make_conf(const properties& base, const properties& overrides = {});

// Creates a client; the conf is consumed. Throws errc::invalid_config with librdkafka's text.
client_ptr make_client(rd_kafka_type_t type, conf_ptr conf);

}  // namespace corobus::kafka
