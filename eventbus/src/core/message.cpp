#include <corobus/eventbus/message.hpp>

namespace corobus {

const std::string* find_header(const headers& hs, std::string_view name) noexcept {
  for (const auto& h : hs)
    if (h.name == name) return &h.value;
  return nullptr;
}

headers metadata_headers(const envelope& e) {
  headers hs;
  hs.reserve(7);
  for_each_metadata_header(e, [&hs](std::string_view name, std::string_view value) {
    hs.push_back({std::string(name), std::string(value)});
  });
  return hs;
}

}  // namespace corobus
