#include "backends/nats/stream_names.hpp"
#include "core/name_digest.hpp"

#include <fmt/format.h>

namespace corobus::detail {
namespace {

std::string_view code_of(char c) {
  switch (c) {
    case '.': return "_";
    case '_': return "-_";
    case '-': return "--";
    default: return {};
  }
}

}  // namespace

std::string jetstream_name(std::string_view name, std::size_t budget) {
  std::string out;
  out.reserve(name.size() + 4);
  const auto room_when_cut = budget - 1 - name_digest_length;
  std::size_t fits_when_cut = 0;  // the escaped length of the whole codes that fit a cut name
  for (const char c : name) {
    const auto code = code_of(c);
    if (code.empty())
      out += c;
    else
      out += code;
    if (out.size() <= room_when_cut) fits_when_cut = out.size();
  }
  if (out.size() <= budget) return out;
  out.resize(fits_when_cut);
  return out + '-' + name_digest(name);
}

std::string partition_durable_name(std::string_view group, int partition) {
  const auto suffix = fmt::format("_p{}", partition);
  auto name = jetstream_name(group, jetstream_max_name - suffix.size());
  return name + suffix;
}

std::string group_bucket_name(std::string_view group) {
  constexpr std::string_view prefix = "corobus-group-";
  constexpr std::size_t max_bucket = jetstream_max_name - 3;  // its stream is "KV_<bucket>"
  return std::string(prefix) + jetstream_name(group, max_bucket - prefix.size());
}

}  // namespace corobus::detail
