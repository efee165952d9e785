#include <corobus/eventbus/topic.hpp>
#include <corobus/runtime/error.hpp>
#include "core/name_digest.hpp"
#include "envelope/printable.hpp"

#include <fmt/format.h>

namespace corobus {

std::optional<std::string> topic_problem(std::string_view topic) {
  if (topic.empty()) return "topic name is empty";
  if (topic.size() > max_topic_length)
    return fmt::format("topic name is {} characters long (at most {})", topic.size(), max_topic_length);
  for (std::size_t i = 0; i < topic.size(); ++i) {
    const char c = topic[i];
    const bool allowed =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!allowed)
      return fmt::format(
          "character {} at position {} is not allowed (only [A-Za-z0-9._-])",
          c >= 0x21 && c < 0x7f ? fmt::format("'{}'", c) : fmt::format("code {}", static_cast<unsigned char>(c)), i);
  }
  if (topic.front() == '.' || topic.back() == '.' || topic.find("..") != std::string_view::npos)
    return "topic name has an empty dot-separated token";
  return std::nullopt;
}

void validate_topic(std::string_view topic) {
  if (auto p = topic_problem(topic))
    throw_error(errc::invalid_topic, fmt::format("invalid topic '{}': {}", detail::printable(topic), *p));
}

std::string dead_letter_topic(std::string_view topic) {
  constexpr std::string_view suffix = ".dlq";
  if (topic.size() + suffix.size() <= max_topic_length) return std::string(topic) + std::string(suffix);
  // Too long for Kafka's limit with the suffix: the first characters, the digest of the whole
  // name, then the suffix. The cut never leaves a '.' before the digest's (no empty token).
  auto head = topic.substr(0, max_topic_length - suffix.size() - detail::name_digest_length - 1);
  while (head.ends_with('.')) head.remove_suffix(1);
  return fmt::format("{}.{}{}", head, detail::name_digest(topic), suffix);
}

}  // namespace corobus
