#pragma once
// The rules the envelope codec keeps, written once for the fuzz targets (fuzz/*.cpp) and the
// test suite (tests/envelope_tests.cpp, which also replays fuzz/corpus/). Each check returns
// what went wrong, or nothing.
//
//  - round trip: for every envelope with no problem(), decode(encode(e)) == e; what decode
//    refuses of encode's output, problem() refused first (encode refuses exactly then).
//  - decode, against Boost.JSON's DOM: decode accepts a document exactly when the DOM reads
//    it (at the same depth limit) as an object whose members make an envelope with no
//    problem(), and then gives those members' values; what it accepts passes the round trip.
#include <corobus/eventbus/envelope.hpp>
#include <corobus/eventbus/detail/timestamp.hpp>
#include <corobus/runtime/error.hpp>

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corobus::checks {

// The first field in which two envelopes differ, or nothing.
inline std::optional<std::string> first_difference(const envelope& a, const envelope& b, bool with_payload = true) {
  if (a.event_id != b.event_id) return "event_id";
  if (a.aggregate_id != b.aggregate_id) return "aggregate_id";
  if (a.event_type != b.event_type) return "event_type";
  if (a.event_version != b.event_version) return "event_version";
  if (a.timestamp != b.timestamp) return "timestamp";
  if (a.trace_id != b.trace_id) return "trace_id";
  if (a.correlation_id != b.correlation_id) return "correlation_id";
  if (a.tenant_id != b.tenant_id) return "tenant_id";
  if (with_payload && a.payload != b.payload) return "payload";
  return std::nullopt;
}

inline std::optional<std::string> check_round_trip(const envelope& e) {
  const auto problem = e.problem();
  std::string text;
  try {
    text = e.encode();
  } catch (const boost::system::system_error& x) {
    if (x.code() != errc::invalid_envelope) return std::string("encode threw another error: ") + x.what();
    if (!problem) return std::string("encode refused an envelope problem() accepts: ") + x.what();
    return std::nullopt;
  }
  if (problem) return "encode wrote an envelope problem() refuses: " + *problem;
  boost::json::parse_options options;
  options.max_depth = max_payload_depth + 1;
  boost::system::error_code ec;
  (void)boost::json::parse(text, ec, {}, options);
  if (ec) return "encode wrote what Boost.JSON does not read (" + ec.message() + "): " + text;
  try {
    const auto back = envelope::decode(text);
    if (auto field = first_difference(back, e)) return "decode(encode(e)) differs from e in " + *field;
  } catch (const boost::system::system_error& x) {
    return std::string("decode refused what encode wrote, and problem() did not: ") + x.what();
  }
  return std::nullopt;
}

namespace dom {

// A second reading of the envelope, from Boost.JSON's DOM: the same rules (a repeated member
// counts with its last value, as the DOM keeps it; a string member given another kind of value
// counts as missing) written over other code. The payload is its DOM value; `fields.payload`
// is that value serialised again, so problem() can judge it.
struct reading {
  envelope fields;
  boost::json::value payload;
};

// Nothing when the document cannot be an envelope whatever its members say (not JSON, too
// deep, not an object, a version that is not an integer, a timestamp that is not a valid
// RFC 3339 string).
inline std::optional<reading> read(std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = max_payload_depth + 1;
  boost::system::error_code ec;
  auto doc = boost::json::parse(text, ec, {}, options);
  if (ec || !doc.is_object()) return std::nullopt;
  const auto& o = doc.get_object();
  reading r;
  const auto string_member = [&](std::string_view key) -> std::string {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  r.fields.event_id = string_member("event_id");
  r.fields.aggregate_id = string_member("aggregate_id");
  r.fields.event_type = string_member("event_type");
  r.fields.trace_id = string_member("trace_id");
  r.fields.correlation_id = string_member("correlation_id");
  r.fields.tenant_id = string_member("tenant_id");
  if (const auto* v = o.if_contains("event_version")) {
    if (v->is_int64()) r.fields.event_version = v->get_int64();
    else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      r.fields.event_version = static_cast<std::int64_t>(v->get_uint64());
    else return std::nullopt;
  }
  if (const auto* v = o.if_contains("timestamp")) {
    if (!v->is_string()) return std::nullopt;
    const auto tp = detail::parse_rfc3339(v->get_string());
    if (!tp) return std::nullopt;
    r.fields.timestamp = *tp;
  }
  if (const auto* v = o.if_contains("payload")) {
    r.payload = *v;
    r.fields.payload = boost::json::serialize(*v);
  }
  return r;
}

}  // namespace dom

inline std::optional<std::string> check_decode(std::string_view text) {
  std::optional<envelope> decoded;
  std::string refusal;
  try {
    decoded = envelope::decode(text);
  } catch (const boost::system::system_error& x) {
    if (x.code() != errc::invalid_envelope) return std::string("decode threw another error: ") + x.what();
    refusal = x.what();
  }
  const auto expected = dom::read(text);
  if (!decoded) {
    // Boost.JSON writes NaN and infinities as bare words, which problem() then refuses: such a
    // payload is judged by decode alone.
    if (expected && !expected->fields.problem())
      return "decode refused an envelope the DOM reads as valid: " + refusal;
    return std::nullopt;
  }
  if (!expected) return "decode accepted what the DOM does not read as an envelope";
  if (auto field = first_difference(*decoded, expected->fields, false))
    return "decode and the DOM disagree on " + *field;
  // Both payloads as the DOM holds them, compared as serialised text: Boost.JSON 1.81 reads
  // 0e400 as NaN, which no value compares equal to.
  boost::system::error_code ec;
  const auto payload = boost::json::parse(decoded->payload, ec);
  if (ec) return "decode gave a payload that is not JSON: " + decoded->payload;
  if (boost::json::serialize(payload) != boost::json::serialize(expected->payload))
    return "decode and the DOM disagree on the payload: " + decoded->payload;
  if (auto p = decoded->problem()) return "decode accepted an envelope problem() refuses: " + *p;
  return check_round_trip(*decoded);
}

}  // namespace corobus::checks
