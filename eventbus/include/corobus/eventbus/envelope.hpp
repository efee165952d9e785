#pragma once
// The event envelope: the unit `publish_envelope` sends and `subscribe_envelopes` delivers,
// ordered per aggregate id. JSON field names match the original event bus, so both can read
// each other's messages.
//
// One rule for both directions: decode(e.encode()) == e for every envelope whose problem() is
// empty, and whatever decode refuses, problem() refuses before it is published. So:
//  - the string fields must be valid UTF-8 (they are written into the JSON as they are);
//  - the payload is any JSON value but null, nested at most max_payload_depth deep, and it
//    travels exactly as written, white space around it included;
//  - the timestamp is an RFC 3339 time the time point can hold (see detail/timestamp.hpp:
//    1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z on this platform).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corobus {

// How deep arrays and objects may nest in a payload: [[1]] is 2 deep. The publish-side check
// and the decoder's parser (for which the envelope object is one level more) use this one
// value, so nothing is published that a consumer would refuse.
inline constexpr std::size_t max_payload_depth = 32;

struct envelope {
  // Not an aggregate on purpose: see publish_options in message.hpp.
  envelope() = default;

  // The string fields are UTF-8; only event_id, aggregate_id and event_type must be non-empty.
  std::string event_id;      // UUIDv7 when made by make()
  std::string aggregate_id;  // the ordering key: <= 256 chars of [A-Za-z0-9:_\-./]
  std::string event_type;
  std::int64_t event_version = 0;  // > 0
  std::chrono::system_clock::time_point timestamp{};
  std::string trace_id;
  std::string correlation_id;
  std::string tenant_id;
  std::string payload;  // raw JSON text, not null, as written (white space included)

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
  // The payload is the text between its member's ':' and the ',' or '}' that ends it.
  static envelope decode(std::string_view json);

  friend bool operator==(const envelope&, const envelope&) = default;
};

// A UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits, so ids sort by
// creation time. Monotonic within a thread.
std::string make_uuid_v7(std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace corobus
