#pragma once
// cnats's status codes as a `nats` error category, and the one way this layer throws them.
#include <nats/nats.h>

#include <boost/system/error_code.hpp>

#include <string_view>

namespace corobus::nats {

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(natsStatus s) noexcept {
  return {static_cast<int>(s), error_category()};
}

// Throws system_error(`s`) saying `what` failed, with cnats's last error text (which names
// the cause: "no server available", an authorization violation, ...), unless s is NATS_OK.
void throw_if(natsStatus s, std::string_view what);

}  // namespace corobus::nats
