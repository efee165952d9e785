#pragma once
// Bus configuration. Every value is checked when the bus opens; a bad one is an
// errc::invalid_config error that names it.
#include <corobus/awaitables/nats_security.hpp>
#include <corobus/awaitables/topic_strategy.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace corobus {

enum class backend_kind { memory, kafka, nats };

// How a failing message is retried before it goes to `<topic>.dlq`. The backoff doubles from
// `initial_backoff` up to `max_backoff`.
struct retry_policy {
  unsigned attempts = 3;  // handler calls in all, >= 1
  std::chrono::milliseconds initial_backoff{10};
  std::chrono::milliseconds max_backoff{1000};

  std::chrono::milliseconds backoff_before(unsigned attempt) const;  // attempt >= 2
};

// How a dead letter is written when the transport fails it (the rules, one by one, are in
// detail/dead_letter_plan.hpp). A message whose dead letter is not written is never
// committed past: it is held, and comes again after a restart.
struct dead_letter_policy {
  // Transient failures are tried again after initial_backoff, doubling up to max_backoff;
  // then (and at once when the transport refuses the write) the message is held: counted in
  // metrics().held, its partition paused, and tried again every max_backoff.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{10000};
  // A held message is logged as an error when it becomes held, then at most this often.
  std::chrono::milliseconds log_interval{60000};
  // Unset (the default): a message stays held until its dead letter is written, its
  // partition moves to another consumer, or the bus closes. Set: once held this long it is
  // given up, logged, counted in metrics().lost and committed past.
  std::optional<std::chrono::milliseconds> give_up_after;
};

struct kafka_config {
  // Comma-separated bootstrap servers, or "embedded": an in-process cluster (librdkafka's mock
  // brokers on loopback) that lives and dies with the bus, so nothing has to be installed.
  std::string bootstrap = "embedded";
  int embedded_brokers = 3;

  // Any librdkafka property, passed through as given (security.protocol, sasl.*, ...): to
  // both clients, then the client-specific ones (later wins).
  std::map<std::string, std::string> properties;
  std::map<std::string, std::string> producer_properties;
  std::map<std::string, std::string> consumer_properties;

  // Applied to each topic and its .dlq; create_if_missing uses the settings below.
  topic_strategy topics = topic_strategy::create_if_missing;
  int partitions = 6;  // for topics the bus creates
  int replication = 1;
  std::optional<std::chrono::milliseconds> retention;  // broker default when unset

  // Opening the bus fails with errc::broker_error when no broker answers within this.
  std::chrono::milliseconds connect_timeout{10000};
  // How often the consumed positions (per partition: the first offset not yet done) are
  // committed; they are also committed on revoke and on close.
  std::chrono::milliseconds commit_interval{1000};
  // The in-flight window: messages a consumer (one per bus and group) may have delivered and
  // not yet committed, so a crash or a rebalance delivers at most this many again. At half
  // of it the consumer commits without waiting for commit_interval; at the limit it takes no
  // more records until commits are stored (after a second it pauses its partitions, and
  // resumes them at half).
  std::size_t max_in_flight = 10000;
  // On revoke, how long the revoked partitions' running handlers may take before the
  // partitions are given up anyway (their unfinished messages go to the next owner).
  std::chrono::milliseconds revoke_timeout{10000};
  // close(), after the handlers ended: how long the final commit, the producer's flush and
  // leaving the group may take, in all. What is not committed by then is delivered again.
  std::chrono::milliseconds close_timeout{10000};

  void validate() const;  // called by config::validate() when the backend is kafka
};

// Where a NATS stream keeps its messages.
enum class nats_storage { file, memory };
// When a stream lets messages go: at its limits (max_age, max_bytes), once every consumer
// acknowledged them (interest), or once one did (work_queue: one group per topic).
enum class nats_retention { limits, interest, work_queue };

struct nats_config {
  // Comma-separated server URLs (nats://host:4222, tls://...), or "embedded": a nats-server
  // child process of the bus (-js, a free loopback port, a store directory of its own), started
  // when the bus opens and stopped, reaped and removed when it closes. Needs `nats-server` in
  // PATH (./dev installs it).
  std::string url = "embedded";
  nats_security security;

  // Each topic is a stream with the topic as its one subject (names in docs/nats.md), and so
  // is its dead-letter topic; the strategy is applied to both before the first publish or
  // subscription.
  topic_strategy topics = topic_strategy::create_if_missing;
  // For the streams the bus creates:
  nats_storage storage = nats_storage::file;
  nats_retention retention = nats_retention::limits;
  int replicas = 1;
  std::optional<std::chrono::milliseconds> max_age;  // unlimited when unset
  std::optional<std::int64_t> max_bytes;             // unlimited when unset
  // A publish is stored once within this window of its Nats-Msg-Id (an envelope's event id).
  std::chrono::milliseconds duplicate_window{120000};

  // A group is a durable pull consumer per topic (explicit acks). Its in-flight window
  // (max_ack_pending): messages delivered and not yet acknowledged; at the limit nothing is
  // pulled, and a crash redelivers at most this many.
  std::size_t max_in_flight = 1000;
  // Held messages (their dead letters refused: dead_letter_policy) leave the in-flight
  // window, so that the other keys go on, but stay unacknowledged on the server, which
  // counts them in max_ack_pending: that is max_in_flight + max_held. With max_held held,
  // nothing more is delivered (logged) until some are written; 0: they keep window slots.
  std::size_t max_held = 1000;
  // Unacknowledged this long, a message is delivered again. While a handler runs (or a
  // message waits in its lane) longer than a third of it, the bus sends in-progress acks.
  std::chrono::milliseconds ack_wait{30000};
  int pull_batch = 256;                           // asked for at a time; again at half
  std::chrono::milliseconds pull_expires{10000};  // each pull request's life on the server

  // Partitioned topics, for groups of several processes that keep per-key order (JetStream
  // itself hands a shared durable's messages to whichever member pulls). With N > 0 each
  // topic's stream has the subjects `<topic>.0` .. `<topic>.<N-1>` (fixed when the stream is
  // made; a stream with other subjects is an invalid_config error), a publish goes to
  // `<topic>.<p>` with p = FNV-1a 32 of its key mod N (unkeyed ones are spread), and a group
  // has one durable per partition, each owned by one live member at a time through leases in
  // the key-value bucket `corobus-group-<group>` (docs/nats.md). Dead-letter topics are not
  // partitioned. The window of each partition is max_in_flight / N, and max_held / N held.
  int partitions = 0;
  // A member that stops renewing (crashed, paused, cut off) loses its partitions after this;
  // it stops handling them itself after two thirds of it. Every member of a group must use
  // the same value. Pulls of partitioned groups expire within a sixth of it.
  std::chrono::milliseconds lease_ttl{10000};
  // A partition moving to another member: how long its running handlers may take before they
  // are cancelled (their messages go to the next owner).
  std::chrono::milliseconds revoke_timeout{10000};

  // Opening the bus fails with errc::broker_error when no server answers within this.
  std::chrono::milliseconds connect_timeout{5000};
  // A publish without its stream's answer within this fails (NATS_TIMEOUT); also the bound
  // of each stream or consumer management request.
  std::chrono::milliseconds publish_timeout{10000};
  std::chrono::milliseconds reconnect_wait{200};
  int max_reconnects = -1;  // -1: forever
  // close(), after the handlers ended: how long flushing the acks may take.
  std::chrono::milliseconds close_timeout{10000};

  void validate() const;  // called by config::validate() when the backend is nats
};

struct config {
  backend_kind backend = backend_kind::memory;
  kafka_config kafka;          // used when backend == kafka
  nats_config nats;            // used when backend == nats
  std::size_t io_threads = 0;  // 0: one per hardware thread

  // Subscription defaults (subscribe_options may override them per subscription).
  // Keyed lanes per envelope subscription: at most this many of its handlers run at once (one
  // per lane). 256 suits handlers that wait on I/O; for handlers that never suspend a few per
  // io thread are enough, and more only cost wake-ups of idle lanes.
  std::size_t lanes = 256;
  std::size_t lane_capacity = 64;  // messages a lane holds before intake waits
  std::size_t concurrency = 64;    // handlers at once in an unordered subscription
  std::size_t stream_capacity = 1000;
  retry_policy retry;
  dead_letter_policy dead_letters;

  // Unnamed subscriptions get a group of their own, "<prefix>.<topic>.<n>" (n counts this
  // bus's unnamed subscriptions of the topic from 0). On Kafka that is the consumer group id,
  // so a restarted service resumes where its commits say: give each service its own prefix
  // (or name its groups), or services with the same prefix share the work.
  std::string anonymous_group_prefix = "corobus";

  // close(): how long in-flight handlers may finish before they are cancelled.
  std::chrono::milliseconds close_grace{5000};

  // Throws system_error(errc::invalid_config) naming the first bad value.
  void validate() const;

  // A configuration from JSON, every field by its name here, nested as here ("kafka": {...},
  // "nats": {"security": {...}}, "retry": {...}); what is left out keeps its default.
  // Durations are strings with a unit ("250ms", "5s", "2min", "1h"); enums by name
  // ("kafka", "create_if_missing", "work_queue"); the librdkafka property maps take strings,
  // numbers or booleans. An unknown key, a wrong type or a bad value is an
  // errc::invalid_config error naming its path ("config.nats.ack_wait"); the result is
  // validated. Values of secrets (nats.security, the property maps) never appear in errors.
  static config from_json(std::string_view json);
  static config from_file(const std::string& path);  // the same, from a file
};

struct subscribe_options {
  // Not an aggregate on purpose: see publish_options in message.hpp.
  subscribe_options() = default;
  explicit subscribe_options(std::string group) : group(std::move(group)) {}

  std::string group;  // empty: a group of its own, so it sees every message
  std::optional<std::size_t> lanes;
  std::optional<std::size_t> lane_capacity;
  std::optional<std::size_t> concurrency;
  std::optional<retry_policy> retry;
};

}  // namespace corobus
