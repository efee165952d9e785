#pragma once
// librdkafka's error codes as boost::system::error_code values in a "kafka" category, so a
// broker error reaches the caller with librdkafka's own code and text
// (`e.code() == corobus::kafka::make_error_code(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)`).
#include <boost/system/error_code.hpp>

#include <librdkafka/rdkafka.h>

#include <string>

namespace corobus::kafka {

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(rd_kafka_resp_err_t e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// Throws system_error for `e` (no-op for RD_KAFKA_RESP_ERR_NO_ERROR), with `what` first.
void throw_if(rd_kafka_resp_err_t e, const std::string& what);
// The same for an rd_kafka_error_t, which it destroys.
void throw_if(rd_kafka_error_t* e, const std::string& what);

}  // namespace corobus::kafka
