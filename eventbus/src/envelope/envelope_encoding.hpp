#pragma once
// The envelope's JSON, for publish paths that validated the envelope already
// (envelope::encode() validates, which parses the payload once more).
#include <corobus/eventbus/envelope.hpp>

#include <string>

namespace corobus::detail {

// `e` must be valid (e.validate() passed).
std::string encode_validated(const envelope& e);

}  // namespace corobus::detail
