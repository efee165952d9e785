#pragma once
// Topic names that every backend accepts: 1 to 249 characters of [A-Za-z0-9._-] (Kafka's
// rule), with no empty dot-separated token (NATS subjects), so `orders` and `orders.dlq`
// are fine, while `orders..v2`, `.orders`, `a b` and `orders.*` are not.
#include <optional>
#include <string>
#include <string_view>

namespace corobus {

inline constexpr std::size_t max_topic_length = 249;

// What is wrong with the name, or nothing when it is allowed.
std::optional<std::string> topic_problem(std::string_view topic);
// Throws system_error(errc::invalid_topic) naming the topic and the problem.
void validate_topic(std::string_view topic);

// Where messages that failed every attempt (or could not be decoded) go: `<topic>.dlq`, or,
// for a topic longer than 245 characters, its first characters, '.', 26 characters of a
// digest of the whole name and ".dlq" (249 in all, Kafka's limit).
std::string dead_letter_topic(std::string_view topic);

}  // namespace corobus
