#include "raw_nats.hpp"

#include <stdexcept>

namespace corobus::test {
namespace {

void check(natsStatus s, jsErrCode code, std::string_view what) {
  if (s == NATS_OK) return;
  throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(s) + " (JetStream error " +
                           std::to_string(code) + "): " + nats_GetLastError(nullptr));
}

}  // namespace

raw_nats::raw_nats(const std::string& url) {
  check(natsConnection_ConnectTo(&nc_, url.c_str()), {}, "connecting to " + url);
  check(natsConnection_JetStream(&js_, nc_, nullptr), {}, "JetStream");
}

raw_nats::~raw_nats() {
  jsCtx_Destroy(js_);
  natsConnection_Destroy(nc_);
}

std::uint64_t raw_nats::publish(const std::string& subject, std::string_view payload, const corobus::headers& headers) {
  natsMsg* m = nullptr;
  check(natsMsg_Create(&m, subject.c_str(), nullptr, payload.data(), static_cast<int>(payload.size())), {},
        "a message");
  natsStatus s = NATS_OK;
  for (const auto& h : headers)
    if (s == NATS_OK) s = natsMsgHeader_Add(m, h.name.c_str(), h.value.c_str());
  jsPubAck* ack = nullptr;
  jsErrCode code{};
  if (s == NATS_OK) s = js_PublishMsg(&ack, js_, m, nullptr, &code);
  natsMsg_Destroy(m);
  const auto sequence = ack ? ack->Sequence : 0;
  jsPubAck_Destroy(ack);
  check(s, code, "publishing to " + subject);
  return sequence;
}

void raw_nats::add_stream(const std::string& name, const std::vector<std::string>& subjects) {
  std::vector<const char*> names;
  for (const auto& s : subjects) names.push_back(s.c_str());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  cfg.Subjects = names.data();
  cfg.SubjectsLen = static_cast<int>(names.size());
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  const auto s = js_AddStream(&info, js_, &cfg, nullptr, &code);
  jsStreamInfo_Destroy(info);
  check(s, code, "adding stream " + name);
}

void raw_nats::delete_stream(const std::string& name) {
  jsErrCode code{};
  check(js_DeleteStream(js_, name.c_str(), nullptr, &code), code, "deleting stream " + name);
}

std::int64_t raw_nats::ack_pending(const std::string& stream, const std::string& durable) {
  jsConsumerInfo* info = nullptr;
  jsErrCode code{};
  check(js_GetConsumerInfo(&info, js_, stream.c_str(), durable.c_str(), nullptr, &code), code, "consumer " + durable);
  const auto pending = info->NumAckPending;
  jsConsumerInfo_Destroy(info);
  return pending;
}

std::size_t raw_nats::max_payload() const { return static_cast<std::size_t>(natsConnection_GetMaxPayload(nc_)); }

std::size_t header_block_bytes(const corobus::headers& headers) {
  std::size_t n = 12;
  for (const auto& h : headers) n += h.name.size() + h.value.size() + 4;
  return n;
}

}  // namespace corobus::test
