#include "core/dead_letter.hpp"
#include <corobus/eventbus/topic.hpp>

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace corobus::detail {
namespace {

constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();
constexpr std::string_view control_header_rename = "x-corobus-original-";
// The longest values the marks may take: "headers,key,value" and two 64-bit counts.
constexpr std::size_t longest_truncated_value = 17;
constexpr std::size_t longest_count = 20;

bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(a) == lower(b);
         });
}

std::size_t minus(std::size_t room, std::size_t bytes) {
  return room == unbounded ? room : room - std::min(room, bytes);
}

// What is left of the header block and of the record while the letter is put together.
class room {
 public:
  explicit room(const record_limits& l)
      : headers_(l.max_header_bytes ? minus(*l.max_header_bytes, l.header_block_overhead) : unbounded),
        record_(l.max_record_bytes ? minus(*l.max_record_bytes, l.record_overhead + l.header_block_overhead)
                                   : unbounded) {}

  std::size_t for_header() const noexcept { return std::min(headers_, record_); }
  std::size_t for_value() const noexcept { return record_; }

  // Takes `bytes` of header (both rooms) or of record only; false, taking nothing, when they do not fit.
  bool take(std::size_t bytes, bool in_header_block) {
    if (bytes > (in_header_block ? for_header() : record_)) return false;
    take_anyway(bytes, in_header_block);
    return true;
  }
  void take_anyway(std::size_t bytes, bool in_header_block) {
    if (in_header_block) headers_ = minus(headers_, bytes);
    record_ = minus(record_, bytes);
  }

 private:
  std::size_t headers_;
  std::size_t record_;
};

corobus::headers original_headers(const incoming_message& in, const record_limits& limits) {
  auto headers = in.headers();
  if (in.env && !find_header(headers, envelope_headers::event_id)) {
    auto metadata = metadata_headers(*in.env);  // the in-process backend skips them when nobody reads bytes
    headers.insert(headers.end(), metadata.begin(), metadata.end());
  }
  if (!limits.control_header_prefix.empty())
    for (auto& h : headers)
      if (starts_with_ignoring_case(h.name, limits.control_header_prefix)) h.name.insert(0, control_header_rename);
  return headers;
}

}  // namespace

dead_letter_draft make_dead_letter(const incoming_message& in, std::string_view error, unsigned attempts,
                                   const record_limits& limits) {
  const auto& m = *in.msg;
  room left(limits);
  const auto header = [&limits](std::string_view name, std::size_t value) {
    return limits.header_bytes(name.size(), value);
  };

  dead_letter_draft d;
  d.letter.topic = dead_letter_topic(m.topic);
  d.own = {{std::string(dead_letter_headers::origin_topic), m.topic},
           {std::string(dead_letter_headers::origin_partition), std::to_string(m.partition)},
           {std::string(dead_letter_headers::origin_offset), std::to_string(m.offset)},
           {std::string(dead_letter_headers::attempts), std::to_string(attempts)}};
  // Always kept (a transport whose limits leave no room for them refuses the letter, and it
  // is held), with room for the marks.
  for (const auto& h : d.own) left.take_anyway(header(h.name, h.value.size()), true);
  left.take_anyway(header(dead_letter_headers::truncated, longest_truncated_value) +
                       header(dead_letter_headers::dropped_headers, longest_count) +
                       header(dead_letter_headers::original_size, longest_count),
                   true);

  const auto error_room = minus(left.for_header(), header(dead_letter_headers::error, 0));
  if (left.for_header() >= header(dead_letter_headers::error, 0)) {
    const auto kept = error.substr(0, std::min(max_error_header_bytes, error_room));
    left.take_anyway(header(dead_letter_headers::error, kept.size()), true);
    d.own.insert(d.own.begin(), {std::string(dead_letter_headers::error), std::string(kept)});
  }

  const bool key_in_headers = !limits.key_header.empty();
  if (!m.key.empty()) {
    const auto bytes = key_in_headers ? header(limits.key_header, m.key.size()) : m.key.size();
    if (left.take(bytes, key_in_headers))
      d.letter.key = m.key;
    else
      d.key_cut = true;
  }

  auto originals = original_headers(in, limits);
  d.original_headers = originals.size();
  std::vector<std::size_t> smallest_first(originals.size());
  std::iota(smallest_first.begin(), smallest_first.end(), std::size_t{0});
  const auto bytes_of = [&](std::size_t i) { return header(originals[i].name, originals[i].value.size()); };
  std::stable_sort(smallest_first.begin(), smallest_first.end(),
                   [&](std::size_t a, std::size_t b) { return bytes_of(a) < bytes_of(b); });
  std::vector<bool> kept(originals.size(), false);
  for (const auto i : smallest_first) {
    if (!left.take(bytes_of(i), true)) break;  // the rest are larger
    kept[i] = true;
  }
  for (std::size_t i = 0; i < originals.size(); ++i)
    if (kept[i]) d.letter.headers.push_back(std::move(originals[i]));

  d.letter.payload = !in.payload().empty() || !in.env ? std::string(in.payload()) : in.env->encode();
  d.value_budget = left.for_value();
  return d;
}

message fit_dead_letter(const dead_letter_draft& draft, std::size_t value_budget, bool bare) {
  const auto& whole = draft.letter;
  message dl;
  dl.topic = whole.topic;
  dl.key = bare ? std::string() : whole.key;
  dl.payload = whole.payload.substr(0, value_budget);
  if (!bare) dl.headers = whole.headers;
  dl.headers.insert(dl.headers.end(), draft.own.begin(), draft.own.end());

  const auto kept_headers = bare ? 0 : whole.headers.size();
  const bool headers_cut = kept_headers < draft.original_headers;
  const bool key_cut = draft.key_cut || (bare && !whole.key.empty());
  const bool value_cut = value_budget < whole.payload.size();
  std::string truncated;
  const auto mark = [&truncated](std::string_view what) {
    if (!truncated.empty()) truncated += ',';
    truncated += what;
  };
  if (headers_cut) mark("headers");
  if (key_cut) mark("key");
  if (value_cut) mark("value");
  if (truncated.empty()) return dl;
  dl.headers.push_back({std::string(dead_letter_headers::truncated), std::move(truncated)});
  if (headers_cut)
    dl.headers.push_back(
        {std::string(dead_letter_headers::dropped_headers), std::to_string(draft.original_headers - kept_headers)});
  if (value_cut)
    dl.headers.push_back({std::string(dead_letter_headers::original_size), std::to_string(whole.payload.size())});
  return dl;
}

}  // namespace corobus::detail
