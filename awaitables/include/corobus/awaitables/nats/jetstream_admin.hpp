#pragma once
// JetStream management: streams and durable consumers, created or checked. cnats's js_* calls
// block on replies that only the event loop reads, so every call here blocks and must run off
// the connection's strand (on a blocking_pool); each request is bounded by the timeout.
#include <corobus/awaitables/nats/connection.hpp>
#include <corobus/awaitables/topic_strategy.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corobus::nats {

struct stream_spec {
  std::string name;
  std::vector<std::string> subjects;
  jsStorageType storage = js_FileStorage;
  jsRetentionPolicy retention = js_LimitsPolicy;
  int replicas = 1;
  std::optional<std::chrono::milliseconds> max_age;
  std::optional<std::int64_t> max_bytes;
  std::chrono::milliseconds duplicate_window{120000};
  // An existing stream must have exactly these subjects (a partitioned topic's are fixed when
  // it is made); otherwise an existing stream is taken as it is.
  bool exact_subjects = false;
};

struct consumer_spec {
  std::string durable;
  std::string filter_subject;  // empty: the whole stream
  std::chrono::milliseconds ack_wait{30000};
  std::int64_t max_ack_pending = 1000;
};

class jetstream_admin {
 public:
  // Blocking calls on `conn` (which must outlive this), each answered within `timeout`.
  jetstream_admin(connection& conn, std::chrono::milliseconds timeout);
  ~jetstream_admin();

  jetstream_admin(const jetstream_admin&) = delete;
  jetstream_admin& operator=(const jetstream_admin&) = delete;

  // Applies `strategy` to the stream: creates it when missing (create_if_missing), or throws
  // errc::invalid_config when it is missing (validate_only); skip does nothing. An existing
  // stream is left as it is (but see stream_spec::exact_subjects: errc::invalid_config). Other failures: a nats or
  // jetstream error naming the stream.
  void ensure_stream(const stream_spec& spec, topic_strategy strategy);
  // Messages the consumer delivered and has not had acknowledged (the server's ack pending).
  std::int64_t ack_pending(const std::string& stream, const std::string& consumer);
  // Creates the durable pull consumer, or updates it to `spec` when it exists.
  void ensure_consumer(const std::string& stream, const consumer_spec& spec);

 private:
  // The stream's subjects, or nullopt when there is no such stream.
  std::optional<std::vector<std::string>> stream_subjects(const std::string& name);

  jsCtx* js_ = nullptr;
};

}  // namespace corobus::nats
