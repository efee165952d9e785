#pragma once
// What opening a bus threw, for the tests of bad configurations.
#include <corobus/corobus.hpp>

#include <boost/system/system_error.hpp>

#include <string>
#include <utility>

namespace corobus::test {

// The code and message a bus with `cfg` failed to open with; an empty code when it opened
// (and closed again).
inline std::pair<boost::system::error_code, std::string> opening_error(const config& cfg) {
  try {
    bus b(cfg);
  } catch (const boost::system::system_error& e) {
    return {e.code(), e.what()};
  }
  return {};
}

}  // namespace corobus::test
