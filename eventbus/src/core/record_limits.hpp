#pragma once
// What a transport takes in one record, counted as it counts: dead letters are cut to fit
// (dead_letter.hpp). Each backend describes its own; the cut itself is the same for all.
#include <cstddef>
#include <optional>
#include <string_view>

namespace corobus::detail {

struct record_limits {
  // Key, value and headers together, with the overheads below. None: unbounded.
  std::optional<std::size_t> max_record_bytes;
  // The encoded header block alone (NATS: the server refuses more than 65,535 bytes).
  std::optional<std::size_t> max_header_bytes;
  std::size_t record_overhead = 0;        // once per record
  std::size_t header_block_overhead = 0;  // once per header block
  std::size_t header_overhead = 0;        // per header, beyond its name and value
  // Set: the key travels as a header of this name (NATS); else it counts as its bytes.
  std::string_view key_header;
  // Headers whose names begin so (ASCII case ignored) steer the transport when written
  // (NATS: Nats-Expected-Stream, Nats-Rollup, ...). A dead letter copying one would be
  // refused or do harm, so it keeps it as `x-corobus-original-<name>`.
  std::string_view control_header_prefix;

  std::size_t header_bytes(std::size_t name, std::size_t value) const noexcept {
    return name + value + header_overhead;
  }
};

}  // namespace corobus::detail
