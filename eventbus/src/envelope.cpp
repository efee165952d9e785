#include <corobus/eventbus/envelope.hpp>
#include <corobus/eventbus/detail/envelope_encoding.hpp>
#include <corobus/eventbus/detail/raw_member.hpp>
#include <corobus/eventbus/detail/timestamp.hpp>
#include <corobus/runtime/error.hpp>

#include "json_handlers.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <array>

namespace corobus {
namespace json = boost::json;

namespace {

bool aggregate_char_allowed(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '_' || c == '-' || c == '.' || c == '/';
}

bool is_json(std::string_view text) {
  json::basic_parser<detail::json_checker> parser(json::parse_options{});
  boost::system::error_code ec;
  const auto used = parser.write_some(false, text.data(), text.size(), ec);
  return !ec && used == text.size();
}

[[noreturn]] void reject(const std::string& why) { throw_error(errc::invalid_envelope, why); }

// What is wrong with the envelope's fields other than its payload, if anything.
std::optional<std::string> field_problem(const envelope& e) {
  if (e.event_id.empty()) return "event_id is empty";
  if (e.aggregate_id.empty()) return "aggregate_id is empty";
  if (e.aggregate_id.size() > 256)
    return "aggregate_id is " + std::to_string(e.aggregate_id.size()) + " characters long (at most 256)";
  for (char c : e.aggregate_id)
    if (!aggregate_char_allowed(c))
      return "aggregate_id contains a character outside [A-Za-z0-9:_-./] (code " +
             std::to_string(static_cast<unsigned char>(c)) + ")";
  if (e.event_type.empty()) return "event_type is empty";
  if (e.event_version <= 0) return "event_version must be > 0, got " + std::to_string(e.event_version);
  if (e.payload.empty()) return "payload is empty";
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
  if (auto p = field_problem(*this)) return p;
  if (!is_json(payload)) return "payload is not valid JSON";
  return std::nullopt;
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
  o["timestamp"] = format_rfc3339(e.timestamp);
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
  json::basic_parser<detail::envelope_fields> parser(json::parse_options{});
  boost::system::error_code ec;
  const auto used = parser.write_some(false, text.data(), text.size(), ec);
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
    auto tp = detail::parse_rfc3339(*fields.timestamp);
    if (!tp) reject("timestamp '" + *fields.timestamp + "' is not RFC 3339");
    e.timestamp = *tp;
  }
  e.trace_id = std::move(fields.trace_id);
  e.correlation_id = std::move(fields.correlation_id);
  e.tenant_id = std::move(fields.tenant_id);
  if (fields.has_payload) e.payload = *detail::raw_member(text, "payload");
  // The payload is part of a valid document, so valid JSON itself: only the fields are checked.
  if (auto p = field_problem(e)) reject(*p);
  return e;
}

}  // namespace corobus
