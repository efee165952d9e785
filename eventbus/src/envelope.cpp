#include <corobus/eventbus/envelope.hpp>
#include <corobus/eventbus/detail/envelope_encoding.hpp>
#include <corobus/eventbus/detail/raw_member.hpp>
#include <corobus/eventbus/detail/timestamp.hpp>
#include <corobus/runtime/error.hpp>

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

// Parses the payload without heap use for small payloads; nullopt when it is not JSON.
std::optional<json::value> parse_payload(std::string_view text, json::storage_ptr sp = {}) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec, std::move(sp));
  if (ec) return std::nullopt;
  return v;
}

// A handler for json::basic_parser that accepts any well-formed JSON and builds nothing:
// validating a payload this way costs no DOM.
struct json_checker {
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;
  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t, boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) { return true; }
  bool on_object_end(std::size_t, boost::system::error_code&) { return true; }
  bool on_string_part(json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_key_part(json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_key(json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }
};

bool is_json(std::string_view text) {
  json::basic_parser<json_checker> parser(json::parse_options{});
  boost::system::error_code ec;
  const auto used = parser.write_some(false, text.data(), text.size(), ec);
  return !ec && used == text.size();
}

const json::string* string_field(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_string()) return nullptr;
  return &it->value().get_string();
}

std::string optional_string(const json::object& o, std::string_view name) {
  const auto* s = string_field(o, name);
  return s ? std::string(*s) : std::string();
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
  std::array<unsigned char, 4096> buffer;  // the parse's scratch: no heap for a usual envelope
  json::monotonic_resource scratch(buffer.data(), buffer.size());
  auto parsed = parse_payload(text, &scratch);
  if (!parsed) reject("not valid JSON");
  if (!parsed->is_object()) reject("not a JSON object");
  const auto& o = parsed->get_object();

  envelope e;
  e.event_id = optional_string(o, "event_id");
  e.aggregate_id = optional_string(o, "aggregate_id");
  e.event_type = optional_string(o, "event_type");
  if (auto it = o.find("event_version"); it != o.end()) {
    if (!it->value().is_int64() && !it->value().is_uint64()) reject("event_version is not an integer");
    e.event_version = it->value().to_number<std::int64_t>();
  }
  if (const auto* ts = string_field(o, "timestamp")) {
    auto tp = detail::parse_rfc3339(*ts);
    if (!tp) reject("timestamp '" + std::string(*ts) + "' is not RFC 3339");
    e.timestamp = *tp;
  }
  e.trace_id = optional_string(o, "trace_id");
  e.correlation_id = optional_string(o, "correlation_id");
  e.tenant_id = optional_string(o, "tenant_id");
  if (auto it = o.find("payload"); it != o.end() && !it->value().is_null()) {
    const auto raw = detail::raw_member(text, "payload");
    e.payload = raw ? std::string(*raw) : json::serialize(it->value());  // a key with escapes: rare
  }
  // The payload is part of a valid document, so valid JSON itself: only the fields are checked.
  if (auto p = field_problem(e)) reject(*p);
  return e;
}

}  // namespace corobus
