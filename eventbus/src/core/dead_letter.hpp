#pragma once
// The record written to `<topic>.dlq` for a message that failed: its payload and headers as
// they came (the envelope's metadata headers added when it had none), then corobus's own:
// the error, the origin (topic, partition, offset) and the attempts. Pure functions.
#include <corobus/eventbus/message.hpp>
#include "core/incoming_message.hpp"

#include <cstddef>
#include <optional>
#include <string_view>

namespace corobus::detail {

// The error header keeps at most this many bytes of a handler's message.
inline constexpr std::size_t max_error_header_bytes = 4096;

message make_dead_letter(const incoming_message& in, std::string_view error, unsigned attempts);

// The bytes of value a record with `letter`'s key and headers can carry within
// `max_record_bytes` (none: unbounded). Counted as Kafka counts a record, with room to
// spare for the truncation headers; 0 when even the headers do not fit.
std::size_t value_budget(const message& letter, std::optional<std::size_t> max_record_bytes);

// `letter` with at most `budget` bytes of its value; a cut one says so in
// dead_letter_headers::truncated and original_size.
message fit_dead_letter(const message& letter, std::size_t budget);

}  // namespace corobus::detail
