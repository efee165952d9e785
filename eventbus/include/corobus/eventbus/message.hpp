#pragma once
// A message as publish sends it and a subscriber receives it.
#include <corobus/eventbus/envelope.hpp>
#include <corobus/runtime/header.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corobus {

// The value of the first header called `name`, or nullptr.
const std::string* find_header(const headers& hs, std::string_view name) noexcept;

struct message {
  std::string topic;
  std::string key;  // the ordering key; for envelopes, the aggregate id
  std::string payload;
  corobus::headers headers;
  std::int32_t partition = 0;
  std::int64_t offset = -1;  // position in its topic (partition), as the backend numbers it
};

struct publish_options {
  // Not an aggregate on purpose: g++ 12 destroys an aggregate temporary twice when it stands
  // in a co_await expression (`co_await f({...})`), corrupting memory. A type with a
  // constructor is handled correctly, and designated initialisers fail to compile instead.
  publish_options() = default;
  explicit publish_options(std::string key, corobus::headers headers = {})
      : key(std::move(key)), headers(std::move(headers)) {}

  std::string key;
  corobus::headers headers;
};

// What the broker acknowledged.
struct publish_result {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = -1;
};

// Headers that carry a dead letter's history.
namespace dead_letter_headers {
inline constexpr std::string_view error = "x-corobus-error";
inline constexpr std::string_view origin_topic = "x-corobus-origin-topic";
inline constexpr std::string_view origin_partition = "x-corobus-origin-partition";
inline constexpr std::string_view origin_offset = "x-corobus-origin-offset";
inline constexpr std::string_view attempts = "x-corobus-attempts";
// Set when the dead letter carries less than the original did, so that it fits what the
// transport takes: a list of "headers" (some original headers were left out, the largest
// first), "key" and "value" (only its first bytes). The whole record stays at its origin.
inline constexpr std::string_view truncated = "x-corobus-truncated";
inline constexpr std::string_view dropped_headers = "x-corobus-dropped-headers";  // how many were left out
inline constexpr std::string_view original_size = "x-corobus-original-size";      // of the value, in bytes
}  // namespace dead_letter_headers

// Envelope metadata as headers (the names the original event bus used).
namespace envelope_headers {
inline constexpr std::string_view event_id = "X-Event-ID";
inline constexpr std::string_view aggregate_id = "X-Aggregate-ID";
inline constexpr std::string_view event_type = "X-Event-Type";
inline constexpr std::string_view event_version = "X-Event-Version";
inline constexpr std::string_view trace_id = "X-Trace-ID";
inline constexpr std::string_view correlation_id = "X-Correlation-ID";
inline constexpr std::string_view tenant_id = "X-Tenant-ID";
}  // namespace envelope_headers

// Calls f(name, value) for each of an envelope's metadata headers above (trace, correlation
// and tenant only when set).
template <class F>
void for_each_metadata_header(const envelope& e, F&& f) {
  const auto version = std::to_string(e.event_version);
  f(envelope_headers::event_id, std::string_view(e.event_id));
  f(envelope_headers::aggregate_id, std::string_view(e.aggregate_id));
  f(envelope_headers::event_type, std::string_view(e.event_type));
  f(envelope_headers::event_version, std::string_view(version));
  if (!e.trace_id.empty()) f(envelope_headers::trace_id, std::string_view(e.trace_id));
  if (!e.correlation_id.empty()) f(envelope_headers::correlation_id, std::string_view(e.correlation_id));
  if (!e.tenant_id.empty()) f(envelope_headers::tenant_id, std::string_view(e.tenant_id));
}

// The same as a list.
headers metadata_headers(const envelope& e);

}  // namespace corobus
