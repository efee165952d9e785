#include "backends/nats/stream_names.hpp"

namespace corobus::detail {

std::string jetstream_name(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 4);
  for (const char c : name) {
    switch (c) {
      case '.': out += '_'; break;
      case '_': out += "-_"; break;
      case '-': out += "--"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace corobus::detail
