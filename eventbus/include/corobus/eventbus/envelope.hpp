#pragma once
// The event envelope: the unit `publish_envelope` sends and `subscribe_envelopes` delivers,
// ordered per aggregate id. JSON field names match the original event bus, so both can read
// each other's messages.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corobus {

struct envelope {
  // Not an aggregate on purpose: see publish_options in message.hpp.
  envelope() = default;

  std::string event_id;      // UUIDv7 when made by make()
  std::string aggregate_id;  // the ordering key: <= 256 chars of [A-Za-z0-9:_\-./]
  std::string event_type;
  std::int64_t event_version = 0;  // > 0
  std::chrono::system_clock::time_point timestamp{};
  std::string trace_id;
  std::string correlation_id;
  std::string tenant_id;
  std::string payload;  // raw JSON text

  // A new envelope with a fresh UUIDv7 event id and the current time. Not validated here:
  // publish_envelope validates.
  static envelope make(std::string aggregate_id, std::string event_type, std::int64_t version,
                       std::string payload_json);

  // What is wrong with this envelope, or nothing when it is valid.
  std::optional<std::string> problem() const;
  // Throws system_error(errc::invalid_envelope) naming the problem.
  void validate() const;

  // Validates, then writes the JSON form.
  std::string encode() const;
  // Parses and validates; throws system_error(errc::invalid_envelope) saying why it failed.
  static envelope decode(std::string_view json);

  friend bool operator==(const envelope&, const envelope&) = default;
};

// A UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits, so ids sort by
// creation time. Monotonic within a thread.
std::string make_uuid_v7(std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace corobus
