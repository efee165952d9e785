#include <corobus/eventbus/envelope.hpp>
#include <corobus/runtime/error.hpp>
#include "envelope/envelope_encoding.hpp"
#include "envelope/printable.hpp"
#include "envelope/raw_member.hpp"
#include "envelope/timestamp.hpp"
#include "envelope/utf8.hpp"

#include "envelope/json_handlers.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <array>

namespace corobus {
namespace json = boost::json;

namespace {

bool aggregate_char_allowed(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '_' ||
         c == '-' || c == '.' || c == '/';
}

// The decoder's parser: the envelope object is one level above its payload.
json::parse_options decoder_options() {
  json::parse_options options;
  options.max_depth = max_payload_depth + 1;
  return options;
}

// What is wrong with the payload as a JSON value, if anything.
std::optional<std::string> payload_problem(std::string_view text) {
  if (text.empty()) return "payload is empty";
  json::parse_options options;
  options.max_depth = max_payload_depth;
  json::basic_parser<detail::json_checker> parser(options);
  boost::system::error_code ec;
  const auto used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec == json::error::too_deep) return "payload nests deeper than " + std::to_string(max_payload_depth) + " levels";
  if (ec || used != text.size()) return "payload is not valid JSON";
  const auto first = text.find_first_not_of(" \t\n\r");
  if (text.compare(first, 4, "null") == 0) return "payload is null";  // valid, so nothing follows but space
  return std::nullopt;
}

[[noreturn]] void reject(const std::string& why) { throw_error(errc::invalid_envelope, why); }

std::optional<std::string> utf8_problem(std::string_view field, std::string_view value) {
  if (auto at = detail::invalid_utf8_at(value))
    return std::string(field) + " is not valid UTF-8 (byte " + std::to_string(*at) + ")";
  return std::nullopt;
}

// What is wrong with the envelope's fields other than its payload and timestamp, if anything.
std::optional<std::string> field_problem(const envelope& e) {
  if (e.event_id.empty()) return "event_id is empty";
  if (e.aggregate_id.empty()) return "aggregate_id is empty";
  if (e.aggregate_id.size() > 256)
    return "aggregate_id is " + std::to_string(e.aggregate_id.size()) + " characters long (at most 256)";
  for (std::size_t i = 0; i < e.aggregate_id.size(); ++i)
    if (!aggregate_char_allowed(e.aggregate_id[i]))
      return "aggregate_id '" + detail::printable(e.aggregate_id) +
             "' contains a character outside [A-Za-z0-9:_-./] at position " + std::to_string(i) + " (code " +
             std::to_string(static_cast<unsigned char>(e.aggregate_id[i])) + ")";
  if (e.event_type.empty()) return "event_type is empty";
  if (e.event_version <= 0) return "event_version must be > 0, got " + std::to_string(e.event_version);
  // aggregate_id is ASCII by the rule above; decoded strings are valid already (the parser
  // checks), so this only refuses what a publisher set.
  for (const auto& [name, value] : {std::pair<std::string_view, const std::string&>{"event_id", e.event_id},
                                    {"event_type", e.event_type},
                                    {"trace_id", e.trace_id},
                                    {"correlation_id", e.correlation_id},
                                    {"tenant_id", e.tenant_id}})
    if (auto p = utf8_problem(name, value)) return p;
  return std::nullopt;
}

}  // namespace

envelope envelope::make(std::string aggregate_id, std::string event_type, std::int64_t version,
                        std::string payload_json) {
  envelope e;
  e.timestamp = std::chrono::system_clock::now();
  e.event_id = make_uuid_v7(e.timestamp);
  e.aggregate_id = std::move(aggregate_id);
  e.event_type = std::move(event_type);
  e.event_version = version;
  e.payload = std::move(payload_json);
  return e;
}

std::optional<std::string> envelope::problem() const {
  // No timestamp check: every time point this clock holds is written as RFC 3339 and read back
  // as itself (the parser's range is the clock's), as the envelope tests check at both ends
  // and for 20,000 time points between.
  if (auto p = field_problem(*this)) return p;
  return payload_problem(payload);
}

void envelope::validate() const {
  if (auto p = problem()) reject(*p);
}

std::string envelope::encode() const {
  validate();
  return detail::encode_validated(*this);
}

namespace detail {

std::string encode_validated(const envelope& e) {
  // The object and its strings live in stack scratch; only the text is allocated.
  std::array<unsigned char, 1024> buffer;
  json::monotonic_resource scratch(buffer.data(), buffer.size());
  json::object o(&scratch);
  o["event_id"] = e.event_id;
  o["aggregate_id"] = e.aggregate_id;
  o["event_type"] = e.event_type;
  o["event_version"] = e.event_version;
  const auto timestamp = rfc3339_chars(e.timestamp);
  o["timestamp"] = json::string_view(timestamp.data(), timestamp.size());
  if (!e.trace_id.empty()) o["trace_id"] = e.trace_id;
  if (!e.correlation_id.empty()) o["correlation_id"] = e.correlation_id;
  if (!e.tenant_id.empty()) o["tenant_id"] = e.tenant_id;
  // The payload goes in as the producer wrote it (validated), not re-serialised: see
  // raw_member.hpp.
  json::serializer serializer;
  serializer.reset(&o);
  std::string text;
  text.reserve(256 + e.payload.size());
  std::array<char, 512> chunk;
  while (!serializer.done()) text.append(serializer.read(chunk.data(), chunk.size()));
  text.pop_back();  // the closing brace
  text.append(R"(,"payload":)").append(e.payload).push_back('}');
  return text;
}

}  // namespace detail

envelope envelope::decode(std::string_view text) {
  // Read without a DOM: the fields as the parser meets them, the payload as written.
  json::basic_parser<detail::envelope_fields> parser(decoder_options());
  boost::system::error_code ec;
  const auto used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec == json::error::too_deep)
    reject("nests deeper than the envelope and its payload may (" + std::to_string(max_payload_depth) +
           " levels in the payload)");
  if (ec || used != text.size()) reject("not valid JSON");
  auto& fields = parser.handler();
  if (!fields.root_is_object) reject("not a JSON object");
  if (fields.version_not_integer) reject("event_version is not an integer");
  if (fields.timestamp_not_string) reject("timestamp is not a string");

  envelope e;
  e.event_id = std::move(fields.event_id);
  e.aggregate_id = std::move(fields.aggregate_id);
  e.event_type = std::move(fields.event_type);
  if (fields.event_version) e.event_version = *fields.event_version;
  if (fields.timestamp) {
    std::string_view why;
    auto tp = detail::parse_rfc3339(*fields.timestamp, &why);
    if (!tp) reject("timestamp '" + detail::printable(*fields.timestamp, 64) + "' " + std::string(why));
    e.timestamp = *tp;
  }
  e.trace_id = std::move(fields.trace_id);
  e.correlation_id = std::move(fields.correlation_id);
  e.tenant_id = std::move(fields.tenant_id);
  if (fields.payload_is_null) reject("payload is null");
  if (!fields.has_payload) reject("payload is empty");  // missing: as problem() says of an empty one
  e.payload = *detail::raw_member(text, "payload");
  // The payload is part of a valid document, so valid JSON, and one level less deep than the
  // document's limit: only the fields are checked.
  if (auto p = field_problem(e)) reject(*p);
  return e;
}

}  // namespace corobus
