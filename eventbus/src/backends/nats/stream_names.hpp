#pragma once
// How topics and groups are named on JetStream. A stream or consumer name may not hold '.',
// which topic and group names do, so names are escaped, one to one (no two topics share a
// stream):
//   '.' -> '_'     '_' -> "-_"     '-' -> "--"     anything else as it is
// "orders.created" is stream "orders_created"; "order_items" is "order-_items"; "a-b" is
// "a--b". Every code is its own prefix-free word, so the name reads back to one topic only.
// The stream's one subject is the topic itself.
#include <string>
#include <string_view>

namespace corobus::detail {

std::string jetstream_name(std::string_view topic_or_group);

}  // namespace corobus::detail
