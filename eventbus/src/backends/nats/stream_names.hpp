#pragma once
// How topics and groups are named on JetStream. A stream or consumer name may not hold '.',
// which topic and group names do, so names are escaped, one to one (no two topics share a
// stream):
//   '.' -> '_'     '_' -> "-_"     '-' -> "--"     anything else as it is
// "orders.created" is stream "orders_created"; "order_items" is "order-_items"; "a-b" is
// "a--b". Every code is its own prefix-free word, so the name reads back to one topic only.
// The stream's one subject is the topic itself.
//
// The server takes names of at most 255 bytes (JSMaxNameLen, also each name's directory in
// the file store), and escaping can double a name. One that does not fit is shortened: as
// many whole codes of its start as fit, then '-' and the name's digest (core/name_digest.hpp).
// An escaped name never has '-' before a letter or digit, so a shortened name is never an
// escaped one, and two shortened names are equal only when their digests are. Names that fit
// are as they always were: a stream or durable that exists keeps its name.
#include <cstddef>
#include <string>
#include <string_view>

namespace corobus::detail {

inline constexpr std::size_t jetstream_max_name = 255;

// A stream or durable name for a topic or group, within `budget` bytes.
std::string jetstream_name(std::string_view topic_or_group, std::size_t budget = jetstream_max_name);
// The durable of one partition of a partitioned group: "<group>_p<p>", shortened as a whole.
std::string partition_durable_name(std::string_view group, int partition);
// The key-value bucket of a partitioned group: "corobus-group-<group>". Its stream is "KV_"
// and the bucket's name, so the bucket has 3 bytes fewer.
std::string group_bucket_name(std::string_view group);

}  // namespace corobus::detail
