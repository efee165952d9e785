#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/jetstream_publisher.hpp>

#include <fmt/format.h>
#include <boost/json.hpp>

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
boost::system::error_code read_pub_ack(natsMsg* m, pub_ack& ack) {
  boost::system::error_code ec;
  const auto v =
      boost::json::parse(std::string_view(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))), ec);
  if (ec || !v.is_object()) return make_error_code(NATS_PROTOCOL_ERROR);
  const auto& o = v.as_object();
  if (const auto* err = o.if_contains("error")) {
    const auto* code = err->is_object() ? err->as_object().if_contains("err_code") : nullptr;
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
  if (s != NATS_OK) return corobus::complete(std::move(handler), make_error_code(s), pub_ack{});
  replies_.expect(reply, std::chrono::steady_clock::now() + timeout,
                  [h = std::move(handler)](boost::system::error_code ec, msg_ptr answer) mutable {
                    pub_ack ack;
                    if (!ec) ec = read_pub_ack(answer.get(), ack);
                    corobus::complete(std::move(h), ec, std::move(ack));
                  });
}

}  // namespace corobus::nats
