#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/jetstream_admin.hpp>
#include <corobus/awaitables/nats/jetstream_publisher.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/log.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <boost/system/system_error.hpp>
#include <cstdlib>

namespace corobus::nats {
namespace {

std::int64_t ns(std::chrono::milliseconds ms) { return std::chrono::nanoseconds(ms).count(); }

// A failed management call: cnats's status, or the JetStream API's own error code when the
// server gave one (the more precise of the two).
[[noreturn]] void fail(natsStatus s, jsErrCode code, const std::string& what) {
  if (code != 0) {
    const char* detail = nats_GetLastError(nullptr);
    throw boost::system::system_error(boost::system::error_code(static_cast<int>(code), jetstream_category()),
                                      fmt::format("{}{}{}", what, detail ? ": " : "", detail ? detail : ""));
  }
  throw_if(s == NATS_OK ? NATS_ERR : s, what);
  std::abort();  // not reached: throw_if threw
}

}  // namespace

jetstream_admin::jetstream_admin(connection& conn, std::chrono::milliseconds timeout) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = timeout.count();  // ms, for each request
  throw_if(natsConnection_JetStream(&js_, conn.handle(), &o), "JetStream context");
}

jetstream_admin::~jetstream_admin() { jsCtx_Destroy(js_); }

std::optional<std::vector<std::string>> jetstream_admin::stream_subjects(const std::string& name) {
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  const auto s = js_GetStreamInfo(&info, js_, name.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    std::vector<std::string> subjects(info->Config->Subjects, info->Config->Subjects + info->Config->SubjectsLen);
    jsStreamInfo_Destroy(info);
    return subjects;
  }
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) return std::nullopt;
  fail(s, code, fmt::format("looking up JetStream stream '{}'", name));
}

std::int64_t jetstream_admin::ack_pending(const std::string& stream, const std::string& consumer) {
  jsConsumerInfo* info = nullptr;
  jsErrCode code{};
  const auto s = js_GetConsumerInfo(&info, js_, stream.c_str(), consumer.c_str(), nullptr, &code);
  if (s != NATS_OK) fail(s, code, fmt::format("looking up JetStream consumer '{}' of stream '{}'", consumer, stream));
  const auto pending = info->NumAckPending;
  jsConsumerInfo_Destroy(info);
  return pending;
}

void jetstream_admin::ensure_stream(const stream_spec& spec, topic_strategy strategy) {
  if (strategy == topic_strategy::skip) return;
  if (const auto subjects = stream_subjects(spec.name)) {
    // A stream that would not store what the settings publish is refused now: a publish to a
    // subject no stream stores only times out (a bus without partitions on a partitioned
    // topic, or one with another count).
    const auto stores = [&](const std::string& s) { return std::ranges::find(*subjects, s) != subjects->end(); };
    if (spec.exact_subjects ? *subjects != spec.subjects : !std::ranges::all_of(spec.subjects, stores))
      throw_error(errc::invalid_config,
                  fmt::format("JetStream stream '{}' has the subjects [{}], the topic's settings want [{}] "
                              "(a topic's partitions are fixed when it is made: nats.partitions must match)",
                              spec.name, fmt::join(*subjects, ", "), fmt::join(spec.subjects, ", ")));
    return;
  }
  if (strategy == topic_strategy::validate_only)
    throw_error(errc::invalid_config,
                fmt::format("JetStream stream '{}' does not exist (topic strategy: validate only)", spec.name));
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = spec.name.c_str();
  std::vector<const char*> subjects;
  for (const auto& s : spec.subjects) subjects.push_back(s.c_str());
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Storage = spec.storage;
  cfg.Retention = spec.retention;
  cfg.Replicas = spec.replicas;
  if (spec.max_age) cfg.MaxAge = ns(*spec.max_age);
  if (spec.max_bytes) cfg.MaxBytes = *spec.max_bytes;
  cfg.Duplicates = ns(spec.duplicate_window);
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  const auto s = js_AddStream(&info, js_, &cfg, nullptr, &code);
  jsStreamInfo_Destroy(info);
  // Another bus may have created it meanwhile.
  if (s == NATS_OK || code == JSStreamNameExistErr) {
    if (s == NATS_OK) log().info("JetStream stream '{}' created for '{}'", spec.name, spec.subjects.front());
    return;
  }
  fail(s, code, fmt::format("creating JetStream stream '{}'", spec.name));
}

void jetstream_admin::ensure_consumer(const std::string& stream, const consumer_spec& spec) {
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = spec.durable.c_str();
  cfg.AckPolicy = js_AckExplicit;
  cfg.DeliverPolicy = js_DeliverAll;
  cfg.AckWait = ns(spec.ack_wait);
  cfg.MaxAckPending = spec.max_ack_pending;
  if (!spec.filter_subject.empty()) cfg.FilterSubject = spec.filter_subject.c_str();
  jsConsumerInfo* info = nullptr;
  jsErrCode code{};
  auto s = js_AddConsumer(&info, js_, stream.c_str(), &cfg, nullptr, &code);
  jsConsumerInfo_Destroy(info);
  info = nullptr;
  if (s == NATS_OK) return;
  // It exists with other settings (an earlier run's): the ones given now apply.
  if (code == JSConsumerNameExistErr) {
    code = {};
    s = js_UpdateConsumer(&info, js_, stream.c_str(), &cfg, nullptr, &code);
    jsConsumerInfo_Destroy(info);
    if (s == NATS_OK) return;
  }
  fail(s, code, fmt::format("creating JetStream consumer '{}' on stream '{}'", spec.durable, stream));
}

}  // namespace corobus::nats
