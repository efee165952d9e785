#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/kv_bucket.hpp>
#include <corobus/runtime/error.hpp>

#include <fmt/format.h>
#include <boost/system/system_error.hpp>

#include <memory>

namespace corobus::nats {
namespace {

template <class T, void (*Destroy)(T*)>
struct destroyer {
  void operator()(T* p) const noexcept { Destroy(p); }
};
using entry_ptr = std::unique_ptr<kvEntry, destroyer<kvEntry, kvEntry_Destroy>>;
using msg_owner = std::unique_ptr<natsMsg, destroyer<natsMsg, natsMsg_Destroy>>;

}  // namespace

kv_bucket::kv_bucket(connection& conn, const kv_bucket_spec& spec, std::chrono::milliseconds timeout)
    : name_(spec.name) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = timeout.count();
  throw_if(natsConnection_JetStream(&js_, conn.handle(), &o), "JetStream context");
  const auto ttl = std::chrono::nanoseconds(spec.ttl).count();
  try {
    if (js_KeyValue(&kv_, js_, name_.c_str()) == NATS_OK) {
      // KV_<bucket> is the bucket's stream; its max age is the entries' life.
      jsStreamInfo* info = nullptr;
      const auto stream = "KV_" + name_;
      throw_if(js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, nullptr),
               fmt::format("looking up key-value bucket '{}'", name_));
      const auto existing = info->Config->MaxAge;
      jsStreamInfo_Destroy(info);
      if (existing != ttl)
        throw_error(errc::invalid_config,
                    fmt::format("key-value bucket '{}' keeps entries {} ms, this bus wants {} ms (nats.lease_ttl "
                                "must be the same in every member of a group)",
                                name_, existing / 1000000, spec.ttl.count()));
      return;
    }
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = name_.c_str();
    cfg.History = 1;
    cfg.TTL = ttl;  // nanoseconds in cnats 3.4.1 (it becomes the stream's MaxAge)
    cfg.Replicas = spec.replicas;
    const auto s = js_CreateKeyValue(&kv_, js_, &cfg);
    // Another member may have made it meanwhile.
    if (s != NATS_OK && js_KeyValue(&kv_, js_, name_.c_str()) != NATS_OK)
      throw_if(s, fmt::format("creating key-value bucket '{}'", name_));
  } catch (...) {
    kvStore_Destroy(kv_);
    jsCtx_Destroy(js_);
    throw;
  }
}

kv_bucket::~kv_bucket() {
  kvStore_Destroy(kv_);
  jsCtx_Destroy(js_);
}

std::optional<kv_entry> kv_bucket::get(const std::string& key) {
  kvEntry* raw = nullptr;
  const auto s = kvStore_Get(&raw, kv_, key.c_str());
  entry_ptr e(raw);
  if (s == NATS_NOT_FOUND) return std::nullopt;
  throw_if(s, fmt::format("reading '{}' of key-value bucket '{}'", key, name_));
  return kv_entry{kvEntry_ValueString(e.get()) ? kvEntry_ValueString(e.get()) : "", kvEntry_Revision(e.get())};
}

std::optional<std::uint64_t> kv_bucket::create(const std::string& key, const std::string& value) {
  // kvStore_Create reports a taken key only as text: written here as what it does, a publish
  // that expects the key's subject to hold nothing, so the refusal is JetStream's code 10071.
  // (A deleted key still holds its marker: leases are never deleted, they are overwritten.)
  return update(key, value, 0);
}

std::optional<std::uint64_t> kv_bucket::update(const std::string& key, const std::string& value,
                                               std::uint64_t revision) {
  const auto subject = fmt::format("$KV.{}.{}", name_, key);
  natsMsg* raw = nullptr;
  throw_if(natsMsg_Create(&raw, subject.c_str(), nullptr, value.data(), static_cast<int>(value.size())),
           "key-value write");
  msg_owner m(raw);
  const auto expected = std::to_string(revision);
  throw_if(natsMsgHeader_Set(m.get(), "Nats-Expected-Last-Subject-Sequence", expected.c_str()), "key-value write");
  jsPubAck* ack = nullptr;
  jsErrCode code{};
  const auto s = js_PublishMsg(&ack, js_, m.get(), nullptr, &code);
  const auto written = ack ? ack->Sequence : 0;
  jsPubAck_Destroy(ack);
  if (s == NATS_OK) return written;
  // Another writer has it. nats-server 2.11 and later refuse a write to a key of a replicated
  // bucket while another write to it is still being agreed on with 10164 instead: the same
  // answer. (2.9.10 checks an expected revision only before that agreement, so two writes
  // expecting the same revision can both win there: see docs/nats.md, "Servers".)
  constexpr jsErrCode write_in_flight = static_cast<jsErrCode>(10164);
  if (code == JSStreamWrongLastSequenceErr || code == write_in_flight) return std::nullopt;
  throw_if(s, fmt::format("writing '{}' of key-value bucket '{}'", key, name_));
  return std::nullopt;  // not reached
}

std::uint64_t kv_bucket::put(const std::string& key, const std::string& value) {
  std::uint64_t revision = 0;
  throw_if(kvStore_PutString(&revision, kv_, key.c_str(), value.c_str()),
           fmt::format("writing '{}' of key-value bucket '{}'", key, name_));
  return revision;
}

void kv_bucket::erase(const std::string& key) {
  throw_if(kvStore_Delete(kv_, key.c_str()), fmt::format("deleting '{}' of key-value bucket '{}'", key, name_));
}

std::vector<std::string> kv_bucket::keys(const std::string& prefix) {
  // Not kvStore_Keys: it lists through an ephemeral ordered consumer, and on an R3 bucket after
  // a node was killed (nats-server 2.9.10) its listings timed out at every look for minutes
  // while gets and writes went on. The stream's info with a subjects filter is one request to
  // the bucket's stream leader, as a get is; a subject whose last entry deletes the key is
  // still listed there until it ages out, so each one is read (members are few).
  jsOptions o;
  jsOptions_Init(&o);
  const auto filter = fmt::format("$KV.{}.{}>", name_, prefix);
  o.Stream.Info.SubjectsFilter = filter.c_str();
  jsStreamInfo* info = nullptr;
  const auto stream = "KV_" + name_;
  throw_if(js_GetStreamInfo(&info, js_, stream.c_str(), &o, nullptr),
           fmt::format("listing the keys of key-value bucket '{}'", name_));
  std::vector<std::string> subjects;
  if (const auto* listed = info->State.Subjects)
    for (int i = 0; i < listed->Count; ++i) subjects.emplace_back(listed->List[i].Subject);
  jsStreamInfo_Destroy(info);
  const auto skip = fmt::format("$KV.{}.", name_).size();
  std::vector<std::string> out;
  for (const auto& subject : subjects)
    if (auto key = subject.substr(skip); get(key)) out.push_back(std::move(key));
  return out;
}

}  // namespace corobus::nats
