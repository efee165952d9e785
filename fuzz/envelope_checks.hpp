#pragma once
// The rules the envelope codec keeps, written once for the fuzz targets (fuzz/*.cpp) and the
// test suite (tests/envelope_tests.cpp, which also replays fuzz/corpus/). Each check returns
// what went wrong, or nothing.
//
//  - round trip: for every envelope with no problem(), decode(encode(e)) == e; what decode
//    refuses of encode's output, problem() refused first (encode refuses exactly then).
//  - decode, against Boost.JSON's DOM: decode accepts a document exactly when the DOM reads
//    it (at the same depth limit) as an object whose members make an envelope with no
//    problem(), and then gives those members' values (the payload compared as text, numbers
//    as written); what it accepts passes the round trip.
//  - aggregate_id_of (what picks a lane before decoding) reads any text without harm, and
//    gives what decode gives for a text decode accepts.
#include <corobus/eventbus/envelope.hpp>
#include <corobus/runtime/error.hpp>
#include "envelope/raw_member.hpp"
#include "envelope/timestamp.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// A JSON text written again with each number as its source text. Boost.JSON 1.81's doubles
// are no measure of equality: it reads 0e400 as NaN, and the same digits
// ("923.10789012345670") as two different doubles depending on what the parser read before.
// `payload` is the part of `text` written for the last top-level member named "payload" (its
// name unescaped by the parser): found here without raw_member.hpp's cursor.
struct canonical_json {
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;
  using error_code = boost::system::error_code;
  using sv = boost::json::string_view;

  std::string text;
  std::optional<std::string> payload;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return open('{'); }
  bool on_object_end(std::size_t, error_code&) { return close('}'); }
  bool on_array_begin(error_code&) { return open('['); }
  bool on_array_end(std::size_t, error_code&) { return close(']'); }
  bool on_key_part(sv s, std::size_t n, error_code&) { return gather(key_, s, n); }
  bool on_key(sv s, std::size_t n, error_code&) {
    gather(key_, s, n);
    if (!first_.back()) text.push_back(',');
    first_.back() = false;
    text.append(quoted(key_)).push_back(':');
    payload_next_ = first_.size() == 1 && key_ == "payload";
    return true;
  }
  bool on_string_part(sv s, std::size_t n, error_code&) { return gather(string_, s, n); }
  bool on_string(sv s, std::size_t n, error_code&) {
    gather(string_, s, n);
    return scalar(quoted(string_));
  }
  bool on_number_part(sv s, error_code&) { return number_.append(s), true; }
  bool on_int64(std::int64_t, sv s, error_code&) { return number(s); }
  bool on_uint64(std::uint64_t, sv s, error_code&) { return number(s); }
  bool on_double(double, sv s, error_code&) { return number(s); }
  bool on_bool(bool b, error_code&) { return scalar(b ? "true" : "false"); }
  bool on_null(error_code&) { return scalar("null"); }
  bool on_comment_part(sv, error_code&) { return true; }
  bool on_comment(sv, error_code&) { return true; }

 private:
  static std::string quoted(const std::string& s) { return boost::json::serialize(boost::json::value(sv(s))); }
  static bool gather(std::string& to, sv part, std::size_t n) {
    if (n == part.size())
      to.assign(part);
    else
      to.append(part);
    return true;
  }
  // A value begins: a comma between array elements, and note where a payload's text starts.
  void begin_value() {
    if (!first_.empty() && in_array_.back()) {
      if (!first_.back()) text.push_back(',');
      first_.back() = false;
    }
    if (payload_next_ && first_.size() == 1) payload_start_ = text.size(), payload_next_ = false;
  }
  void end_value() {
    if (payload_start_ && first_.size() == 1) payload = text.substr(*payload_start_), payload_start_.reset();
  }
  bool open(char c) {
    begin_value();
    text.push_back(c);
    first_.push_back(true);
    in_array_.push_back(c == '[');
    return true;
  }
  bool close(char c) {
    text.push_back(c);
    first_.pop_back();
    in_array_.pop_back();
    end_value();
    return true;
  }
  bool scalar(const std::string& written) {
    begin_value();
    text.append(written);
    end_value();
    return true;
  }
  bool number(sv last_part) {
    number_.append(last_part);
    scalar(number_);
    number_.clear();
    return true;
  }

  std::string key_, string_, number_;
  std::vector<bool> first_, in_array_;  // per open container
  bool payload_next_ = false;
  std::optional<std::size_t> payload_start_;
};

inline std::optional<canonical_json> canonical(std::string_view text, std::size_t max_depth) {
  boost::json::parse_options options;
  options.max_depth = max_depth;
  boost::json::basic_parser<canonical_json> parser(options);
  boost::system::error_code ec;
  const auto used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || used != text.size()) return std::nullopt;
  return std::move(parser.handler());
}

namespace dom {

// A second reading of the envelope, from Boost.JSON's DOM: the same rules (a repeated member
// counts with its last value, as the DOM keeps it; a string member given another kind of value
// counts as missing) written over other code. The payload, which the DOM cannot give as text,
// is canonical_json's (numbers as written).
//
// Nothing when the document cannot be an envelope whatever its members say (not JSON, too
// deep, not an object, a version that is not an integer, a timestamp that is not a valid
// RFC 3339 string).
inline std::optional<envelope> read(std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = max_payload_depth + 1;
  boost::system::error_code ec;
  auto doc = boost::json::parse(text, ec, {}, options);
  const auto canonical_doc = canonical(text, max_payload_depth + 1);
  if (ec || !canonical_doc || !doc.is_object()) return std::nullopt;
  const auto& o = doc.get_object();
  envelope e;
  const auto string_member = [&](std::string_view key) -> std::string {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  e.event_id = string_member("event_id");
  e.aggregate_id = string_member("aggregate_id");
  e.event_type = string_member("event_type");
  e.trace_id = string_member("trace_id");
  e.correlation_id = string_member("correlation_id");
  e.tenant_id = string_member("tenant_id");
  if (const auto* v = o.if_contains("event_version")) {
    if (v->is_int64())
      e.event_version = v->get_int64();
    else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      e.event_version = static_cast<std::int64_t>(v->get_uint64());
    else
      return std::nullopt;
  }
  if (const auto* v = o.if_contains("timestamp")) {
    if (!v->is_string()) return std::nullopt;
    const auto tp = detail::parse_rfc3339(v->get_string());
    if (!tp) return std::nullopt;
    e.timestamp = *tp;
  }
  e.payload = canonical_doc->payload.value_or("");
  return e;
}

}  // namespace dom

inline std::optional<std::string> check_decode(std::string_view text) {
  // Read before decoding, for the lane: on any text, and for one that decodes, its aggregate id.
  std::string scratch;
  const auto peeked = detail::aggregate_id_of(text, scratch);
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
    if (expected && !expected->problem()) return "decode refused an envelope the DOM reads as valid: " + refusal;
    return std::nullopt;
  }
  if (!expected) return "decode accepted what the DOM does not read as an envelope";
  if (auto field = first_difference(*decoded, *expected, false)) return "decode and the DOM disagree on " + *field;
  const auto payload = canonical(decoded->payload, max_payload_depth);
  if (!payload) return "decode gave a payload that is not JSON: " + decoded->payload;
  if (payload->text != expected->payload) return "decode and the DOM disagree on the payload: " + decoded->payload;
  if (auto p = decoded->problem()) return "decode accepted an envelope problem() refuses: " + *p;
  if (peeked != std::optional<std::string_view>(decoded->aggregate_id))
    return "aggregate_id_of read '" + std::string(peeked.value_or("(nothing)")) + "', decode '" +
           decoded->aggregate_id + "'";
  return check_round_trip(*decoded);
}

}  // namespace corobus::checks
