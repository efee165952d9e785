#pragma once
// corobus reports failures as boost::system::error_code values in its own category.
// The awaitable API throws them as boost::system::system_error, as asio's use_awaitable
// does, so `catch (const boost::system::system_error& e)` and `e.code() == corobus::errc::closed`
// work the same for corobus and asio errors.
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <type_traits>

namespace corobus {

enum class errc {
  closed = 1,        // the bus or queue is closed; nothing was sent
  invalid_envelope,  // an envelope failed validation or could not be decoded
  invalid_topic,     // a topic name is not allowed
  invalid_config,    // a configuration value is out of range or unknown
  invalid_argument,  // another argument is not allowed
  timeout,           // an operation did not complete within its deadline
  broker_error,      // the broker or client library reported an error
  internal,          // an unexpected exception inside an operation (its message is logged)
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// Throws boost::system::system_error carrying `e` and a message that says what was wrong.
[[noreturn]] void throw_error(errc e, const std::string& what);

}  // namespace corobus

template <>
struct boost::system::is_error_code_enum<corobus::errc> : std::true_type {};
