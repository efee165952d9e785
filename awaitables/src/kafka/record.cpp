#include <corobus/awaitables/kafka/record.hpp>

namespace corobus::kafka {

std::vector<record_header> record::headers() const {
  std::vector<record_header> out;
  visit_headers([&out](std::string_view name, std::string_view value) {
    out.push_back({std::string(name), std::string(value)});
  });
  return out;
}

}  // namespace corobus::kafka
