#pragma once
// The record written to `<topic>.dlq` for a message that failed: its payload and headers as
// they came (the envelope's metadata headers added when it had none), then corobus's own:
// the error, the origin (topic, partition, offset) and the attempts. Pure functions.
//
// Cut to what the transport takes (record_limits), for any record it accepted, since the
// letter adds headers to what may already have been at the limit. What stays, in order:
//  1. corobus's origin headers and attempts, and room for the marks below;
//  2. the error (at most max_error_header_bytes, less when that does not fit);
//  3. the key;
//  4. the original headers, whole, the smallest first, as many as fit (kept in their order);
//  5. the first bytes of the value that fit after all those.
// What was cut is marked: x-corobus-truncated lists "headers", "key" and "value";
// x-corobus-dropped-headers counts the original headers left out; x-corobus-original-size
// is the whole value's size.
#include <corobus/eventbus/message.hpp>
#include "core/incoming_message.hpp"
#include "core/record_limits.hpp"

#include <cstddef>
#include <string_view>

namespace corobus::detail {

// The error header keeps at most this many bytes of a handler's message.
inline constexpr std::size_t max_error_header_bytes = 4096;

struct dead_letter_draft {
  message letter;        // the key (empty when it did not fit), the whole value, the original headers that fit
  corobus::headers own;  // corobus's: the error, the origin and the attempts
  std::size_t original_headers = 0;  // how many the original had
  bool key_cut = false;
  std::size_t value_budget = 0;  // the bytes of value that fit after the headers
};

dead_letter_draft make_dead_letter(const incoming_message& in, std::string_view error, unsigned attempts,
                                   const record_limits& limits);

// The letter to write: `draft` with at most `value_budget` bytes of its value and, when
// `bare`, none of the original headers nor the key (the transport refused even the cut
// letter: its limits are lower than it said). Marked as the top says.
message fit_dead_letter(const dead_letter_draft& draft, std::size_t value_budget, bool bare = false);

}  // namespace corobus::detail
