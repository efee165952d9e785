#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/jetstream_publisher.hpp>

#include <fmt/format.h>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <string_view>

namespace corobus::nats {
namespace {

class jetstream_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "jetstream"; }
  std::string message(int ev) const override {
    switch (ev) {
      case 10060: return "expected stream does not match";
      case 10070: return "wrong last msg id";
      case 10071: return "wrong last sequence";
      case 10077: return "maximum messages exceeded";
      case 10047: return "insufficient resources";
      default: return fmt::format("JetStream API error {}", ev);
    }
  }
};

// The PubAck: {"stream":"S","seq":N[,"duplicate":true]} or {"error":{"code":..,"err_code":..}}.
// Every publish gets one, so the usual form is read by a scan (stream names hold no quote);
// anything else goes through the JSON parser.
// What follows `"key":` and any blanks (the server writes {"stream":"S", "seq":N,"duplicate": true}).
std::string_view value_of(std::string_view text, std::string_view key) {
  const auto at = text.find(key);
  if (at == std::string_view::npos) return {};
  auto rest = text.substr(at + key.size());
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  return rest;
}

bool scan_pub_ack(std::string_view text, pub_ack& ack) {
  if (text.find(R"("error")") != std::string_view::npos) return false;
  const auto stream = value_of(text, R"("stream":)");
  const auto seq = value_of(text, R"("seq":)");
  if (stream.size() < 2 || stream.front() != '"' || seq.empty()) return false;
  const auto name_end = stream.find('"', 1);
  if (name_end == std::string_view::npos) return false;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(seq.data(), seq.data() + seq.size(), n);
  if (ec != std::errc() || end == seq.data()) return false;
  ack.stream = std::string(stream.substr(1, name_end - 1));
  ack.sequence = n;
  ack.duplicate = value_of(text, R"("duplicate":)").starts_with("true");
  return true;
}

boost::system::error_code read_pub_ack(natsMsg* m, pub_ack& ack) {
  const std::string_view text(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
  if (scan_pub_ack(text, ack)) return {};
  boost::system::error_code ec;
  const auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return make_error_code(NATS_PROTOCOL_ERROR);
  const auto& o = v.as_object();
  if (const auto* err = o.if_contains("error")) {
    const auto* fields = err->if_object();
    const auto* code = fields ? fields->if_contains("err_code") : nullptr;
    const auto* description = fields ? fields->if_contains("description") : nullptr;
    if (description && description->is_string()) ack.error = description->as_string();
    return {code && code->is_int64() ? static_cast<int>(code->as_int64()) : 0, jetstream_category()};
  }
  const auto* stream = o.if_contains("stream");
  const auto* seq = o.if_contains("seq");
  if (!stream || !stream->is_string() || !seq || !(seq->is_int64() || seq->is_uint64()))
    return make_error_code(NATS_PROTOCOL_ERROR);
  ack.stream = std::string(stream->as_string());
  ack.sequence = seq->is_uint64() ? seq->as_uint64() : static_cast<std::uint64_t>(seq->as_int64());
  if (const auto* dup = o.if_contains("duplicate"); dup && dup->is_bool()) ack.duplicate = dup->as_bool();
  return {};
}

}  // namespace

const boost::system::error_category& jetstream_category() noexcept {
  static const jetstream_category_impl instance;
  return instance;
}

void jetstream_publisher::start(outgoing_message m, std::chrono::milliseconds timeout,
                                any_handler_of<pub_ack> handler) {
  const auto reply = replies_.new_reply_subject();
  natsMsg* raw = nullptr;
  auto s = natsMsg_Create(&raw, m.subject.c_str(), reply.c_str(), m.payload.data(), static_cast<int>(m.payload.size()));
  msg_ptr msg(raw);
  for (const auto& h : m.headers)
    if (s == NATS_OK) s = natsMsgHeader_Add(raw, h.name.c_str(), h.value.c_str());
  if (s == NATS_OK && !m.msg_id.empty()) s = natsMsgHeader_Set(raw, "Nats-Msg-Id", m.msg_id.c_str());
  // Expected before it is sent: the answer can only arrive through this strand, later.
  if (s == NATS_OK) s = natsConnection_PublishMsg(conn_.handle(), raw);
  if (s != NATS_OK) {
    pub_ack refused;
    refused.error =
        nats_GetLastError(nullptr);  // this thread's: "Payload 2000000 greater than maximum allowed: 1048576"
    return corobus::complete(std::move(handler), make_error_code(s), std::move(refused));
  }
  // The PubAck is read where the publish completes (the router posts it to this executor).
  const auto ex = asio::get_associated_executor(handler, conn_.get_executor());
  replies_.expect(
      reply, std::chrono::steady_clock::now() + timeout,
      asio::bind_executor(ex, [h = std::move(handler)](boost::system::error_code ec, msg_ptr answer) mutable {
        pub_ack ack;
        if (!ec) ec = read_pub_ack(answer.get(), ack);
        corobus::complete(std::move(h), ec, std::move(ack));
      }));
}

}  // namespace corobus::nats
