#include <corobus/eventbus/message.hpp>

namespace corobus {

const std::string* find_header(const headers& hs, std::string_view name) noexcept {
  for (const auto& h : hs)
    if (h.name == name) return &h.value;
  return nullptr;
}

headers metadata_headers(const envelope& e) {
  headers hs{
      {std::string(envelope_headers::event_id), e.event_id},
      {std::string(envelope_headers::aggregate_id), e.aggregate_id},
      {std::string(envelope_headers::event_type), e.event_type},
      {std::string(envelope_headers::event_version), std::to_string(e.event_version)},
  };
  if (!e.trace_id.empty()) hs.push_back({std::string(envelope_headers::trace_id), e.trace_id});
  if (!e.correlation_id.empty()) hs.push_back({std::string(envelope_headers::correlation_id), e.correlation_id});
  if (!e.tenant_id.empty()) hs.push_back({std::string(envelope_headers::tenant_id), e.tenant_id});
  return hs;
}

}  // namespace corobus
