#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/jetstream_message.hpp>

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdlib>

namespace corobus::nats {
namespace {

template <class Number>
bool parse_number(std::string_view token, Number& out) noexcept {
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc() && end == token.data() + token.size();
}

}  // namespace

std::optional<jetstream_metadata> parse_ack_subject(std::string_view reply) noexcept {
  std::array<std::string_view, 13> tokens;
  std::size_t n = 0;
  for (;;) {
    if (n == tokens.size()) return std::nullopt;
    const auto dot = reply.find('.');
    tokens[n++] = reply.substr(0, dot);
    if (dot == std::string_view::npos) break;
    reply.remove_prefix(dot + 1);
  }
  if (n < 9 || tokens[0] != "$JS" || tokens[1] != "ACK") return std::nullopt;
  const std::size_t at = n == 9 ? 2 : 4;  // after `<domain>.<account hash>` on newer servers
  if (n != 9 && n != 11 && n != 12) return std::nullopt;
  jetstream_metadata m;
  m.stream = tokens[at];
  m.consumer = tokens[at + 1];
  if (!parse_number(tokens[at + 2], m.delivered) || !parse_number(tokens[at + 3], m.stream_sequence) ||
      !parse_number(tokens[at + 4], m.consumer_sequence) || !parse_number(tokens[at + 5], m.timestamp_ns) ||
      !parse_number(tokens[at + 6], m.pending))
    return std::nullopt;
  return m;
}

boost::system::error_code acknowledge(const connection& conn, const char* reply, ack_kind kind,
                                      std::chrono::milliseconds nak_delay) {
  if (!reply) return make_error_code(NATS_INVALID_ARG);  // not a JetStream delivery
  natsStatus s = NATS_OK;
  switch (kind) {
    case ack_kind::ack: s = natsConnection_PublishString(conn.handle(), reply, "+ACK"); break;
    case ack_kind::nak:
      s = nak_delay.count() == 0
              ? natsConnection_PublishString(conn.handle(), reply, "-NAK")
              : natsConnection_PublishString(
                    conn.handle(), reply,
                    fmt::format(R"(-NAK {{"delay":{}}})", std::chrono::nanoseconds(nak_delay).count()).c_str());
      break;
    case ack_kind::in_progress: s = natsConnection_PublishString(conn.handle(), reply, "+WPI"); break;
    case ack_kind::term: s = natsConnection_PublishString(conn.handle(), reply, "+TERM"); break;
  }
  return make_error_code(s);
}

std::string_view jetstream_message::subject() const noexcept {
  const char* s = msg_ ? natsMsg_GetSubject(msg_.get()) : nullptr;
  return s ? std::string_view(s) : std::string_view();
}

std::string_view jetstream_message::payload() const noexcept {
  const char* data = msg_ ? natsMsg_GetData(msg_.get()) : nullptr;
  return data ? std::string_view(data, static_cast<std::size_t>(natsMsg_GetDataLength(msg_.get())))
              : std::string_view();
}

const char* jetstream_message::reply() const noexcept { return msg_ ? natsMsg_GetReply(msg_.get()) : nullptr; }

std::string_view jetstream_message::header(const char* name) const noexcept {
  const char* value = nullptr;
  if (!msg_ || natsMsgHeader_Get(msg_.get(), name, &value) != NATS_OK || !value) return {};
  return value;
}

corobus::headers jetstream_message::headers() const {
  corobus::headers out;
  const char** keys = nullptr;
  int count = 0;
  if (!msg_ || natsMsgHeader_Keys(msg_.get(), &keys, &count) != NATS_OK) return out;
  for (int i = 0; i < count; ++i) {
    const char** values = nullptr;
    int n = 0;
    if (natsMsgHeader_Values(msg_.get(), keys[i], &values, &n) != NATS_OK) continue;
    for (int j = 0; j < n; ++j) out.push_back({keys[i], values[j]});
    std::free(values);  // cnats allocates the arrays, not the strings
  }
  std::free(keys);
  return out;
}

}  // namespace corobus::nats
