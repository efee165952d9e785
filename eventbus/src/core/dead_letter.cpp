#include "core/dead_letter.hpp"
#include <corobus/eventbus/topic.hpp>

#include <limits>
#include <string>

namespace corobus::detail {

message make_dead_letter(const incoming_message& in, std::string_view error, unsigned attempts) {
  const auto& m = *in.msg;
  message dl;
  dl.topic = dead_letter_topic(m.topic);
  dl.key = m.key;
  dl.payload = !in.payload().empty() || !in.env ? std::string(in.payload()) : in.env->encode();
  dl.headers = in.headers();
  if (in.env && !find_header(dl.headers, envelope_headers::event_id)) {
    auto metadata = metadata_headers(*in.env);  // the in-process backend skips them when nobody reads bytes
    dl.headers.insert(dl.headers.end(), metadata.begin(), metadata.end());
  }
  dl.headers.push_back({std::string(dead_letter_headers::error), std::string(error.substr(0, max_error_header_bytes))});
  dl.headers.push_back({std::string(dead_letter_headers::origin_topic), m.topic});
  dl.headers.push_back({std::string(dead_letter_headers::origin_partition), std::to_string(m.partition)});
  dl.headers.push_back({std::string(dead_letter_headers::origin_offset), std::to_string(m.offset)});
  dl.headers.push_back({std::string(dead_letter_headers::attempts), std::to_string(attempts)});
  return dl;
}

namespace {

// librdkafka refuses a record whose key, value and serialized headers (name, value and two
// varint lengths each) with its per-record overhead (at most 36 bytes) exceed
// message.max.bytes. Varints are counted at their longest.
constexpr std::size_t record_overhead = 64;
constexpr std::size_t per_header_overhead = 10;
// The two headers a cut value adds, and their values.
constexpr std::size_t truncation_headers =
    dead_letter_headers::truncated.size() + dead_letter_headers::original_size.size() + 2 * per_header_overhead + 32;

}  // namespace

std::size_t value_budget(const message& letter, std::optional<std::size_t> max_record_bytes) {
  if (!max_record_bytes) return std::numeric_limits<std::size_t>::max();
  std::size_t fixed = record_overhead + truncation_headers + letter.key.size();
  for (const auto& h : letter.headers) fixed += h.name.size() + h.value.size() + per_header_overhead;
  return fixed >= *max_record_bytes ? 0 : *max_record_bytes - fixed;
}

message fit_dead_letter(const message& letter, std::size_t budget) {
  if (letter.payload.size() <= budget) return letter;
  message dl{letter.topic,   letter.key,       letter.payload.substr(0, budget),
             letter.headers, letter.partition, letter.offset};
  dl.headers.push_back({std::string(dead_letter_headers::truncated), "value"});
  dl.headers.push_back({std::string(dead_letter_headers::original_size), std::to_string(letter.payload.size())});
  return dl;
}

}  // namespace corobus::detail
