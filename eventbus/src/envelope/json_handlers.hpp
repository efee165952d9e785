#pragma once
// Handlers for json::basic_parser (SAX): the envelope is read and its payload validated
// without building a DOM. (Include boost/json/basic_parser_impl.hpp in one source only.)
#include <boost/json/basic_parser.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corobus::detail {
namespace json = boost::json;
using boost::system::error_code;

// Accepts any well-formed JSON and keeps nothing.
struct json_checker {
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;
  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t, error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t, error_code&) { return true; }
  bool on_string_part(json::string_view, std::size_t, error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, error_code&) { return true; }
  bool on_key_part(json::string_view, std::size_t, error_code&) { return true; }
  bool on_key(json::string_view, std::size_t, error_code&) { return true; }
  bool on_number_part(json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, error_code&) { return true; }
  bool on_double(double, json::string_view, error_code&) { return true; }
  bool on_bool(bool, error_code&) { return true; }
  bool on_null(error_code&) { return true; }
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }
};

// Collects the top-level members an envelope is made of. A string member given some other
// value counts as missing; the payload is only noted (its text is taken from the document as
// written: see raw_member.hpp). A repeated member counts with its last value.
struct envelope_fields : json_checker {
  std::string event_id, aggregate_id, event_type, trace_id, correlation_id, tenant_id;
  std::optional<std::string> timestamp;  // present (even empty) only as a string
  bool timestamp_not_string = false;
  std::optional<std::int64_t> event_version;
  bool version_not_integer = false;
  bool root_is_object = false;
  bool has_payload = false;      // a payload member that is not null
  bool payload_is_null = false;  // a payload member that is null

  bool on_object_begin(error_code&) {
    if (depth_ == 0) root_is_object = true;
    top_value(kind::other);
    ++depth_;
    return true;
  }
  bool on_array_begin(error_code&) {
    top_value(kind::other);
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) { return --depth_, true; }
  bool on_array_end(std::size_t, error_code&) { return --depth_, true; }

  bool on_key_part(json::string_view s, std::size_t n, error_code&) {
    if (depth_ == 1) append(key_, s, n);
    return true;
  }
  bool on_key(json::string_view s, std::size_t n, error_code& ec) {
    on_key_part(s, n, ec);
    if (depth_ == 1) member_ = member_named(key_);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t n, error_code&) {
    if (auto* field = depth_ == 1 ? string_field(member_) : nullptr) append(*field, s, n);
    return true;
  }
  bool on_string(json::string_view s, std::size_t n, error_code& ec) {
    on_string_part(s, n, ec);
    return top_value(kind::string);
  }
  bool on_int64(std::int64_t v, json::string_view, error_code&) { return top_value(kind::integer, v); }
  bool on_uint64(std::uint64_t v, json::string_view, error_code&) {
    return v > static_cast<std::uint64_t>(INT64_MAX) ? top_value(kind::other)
                                                     : top_value(kind::integer, static_cast<std::int64_t>(v));
  }
  bool on_double(double, json::string_view, error_code&) { return top_value(kind::other); }
  bool on_bool(bool, error_code&) { return top_value(kind::other); }
  bool on_null(error_code&) { return top_value(kind::null); }

 private:
  enum class member {
    other,
    event_id,
    aggregate_id,
    event_type,
    event_version,
    timestamp,
    trace_id,
    correlation_id,
    tenant_id,
    payload
  };
  enum class kind { string, integer, null, other };

  static member member_named(std::string_view k) {
    if (k == "event_id") return member::event_id;
    if (k == "aggregate_id") return member::aggregate_id;
    if (k == "event_type") return member::event_type;
    if (k == "event_version") return member::event_version;
    if (k == "timestamp") return member::timestamp;
    if (k == "trace_id") return member::trace_id;
    if (k == "correlation_id") return member::correlation_id;
    if (k == "tenant_id") return member::tenant_id;
    if (k == "payload") return member::payload;
    return member::other;
  }
  // Parts arrive in order; `n` counts the characters so far, this part included.
  static void append(std::string& to, json::string_view part, std::size_t n) {
    if (n == part.size())
      to.assign(part);
    else
      to.append(part);
  }
  std::string* string_field(member m) {
    switch (m) {
      case member::event_id: return &event_id;
      case member::aggregate_id: return &aggregate_id;
      case member::event_type: return &event_type;
      case member::timestamp: return timestamp ? &*timestamp : &timestamp.emplace();
      case member::trace_id: return &trace_id;
      case member::correlation_id: return &correlation_id;
      case member::tenant_id: return &tenant_id;
      default: return nullptr;
    }
  }
  // A value began (a container) or ended (a scalar); at depth 1 it belongs to member_.
  bool top_value(kind k, std::int64_t v = 0) {
    if (depth_ != 1) return true;
    if (member_ == member::event_version) {
      version_not_integer = k != kind::integer;
      event_version = version_not_integer ? std::nullopt : std::optional(v);
    } else if (member_ == member::payload) {
      has_payload = k != kind::null;
      payload_is_null = k == kind::null;
    } else if (member_ == member::timestamp) {
      timestamp_not_string = k != kind::string;
      if (timestamp_not_string) timestamp.reset();
    } else if (auto* field = string_field(member_); field && k != kind::string) {
      field->clear();
    }
    member_ = member::other;
    return true;
  }

  int depth_ = 0;
  std::string key_;
  member member_ = member::other;
};

}  // namespace corobus::detail
