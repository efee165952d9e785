#include <corobus/eventbus/config.hpp>
#include <corobus/eventbus/topic.hpp>
#include <corobus/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace corobus {

std::chrono::milliseconds retry_policy::backoff_before(unsigned attempt) const {
  auto b = initial_backoff;
  for (unsigned i = 2; i < attempt && b < max_backoff; ++i) b *= 2;
  return std::min(b, max_backoff);
}

namespace {

void require(bool ok, const char* what) {
  if (!ok) throw_error(errc::invalid_config, fmt::format("invalid configuration: {}", what));
}

}  // namespace

void config::validate() const {
  require(backend == backend_kind::memory || backend == backend_kind::kafka || backend == backend_kind::nats,
          "backend is not one of memory, kafka, nats");
  require(io_threads <= 1024, "io_threads must be at most 1024");
  require(lanes >= 1 && lanes <= 65536, "lanes must be between 1 and 65536");
  require(lane_capacity >= 1 && lane_capacity <= 1'000'000, "lane_capacity must be between 1 and 1000000");
  require(concurrency >= 1 && concurrency <= 65536, "concurrency must be between 1 and 65536");
  require(stream_capacity >= 1 && stream_capacity <= 1'000'000, "stream_capacity must be between 1 and 1000000");
  require(retry.attempts >= 1 && retry.attempts <= 1000, "retry.attempts must be between 1 and 1000");
  require(retry.initial_backoff.count() >= 0, "retry.initial_backoff must not be negative");
  require(retry.max_backoff >= retry.initial_backoff, "retry.max_backoff must be >= retry.initial_backoff");
  require(dead_letters.initial_backoff.count() > 0, "dead_letters.initial_backoff must be positive");
  require(dead_letters.max_backoff >= dead_letters.initial_backoff,
          "dead_letters.max_backoff must be >= dead_letters.initial_backoff");
  require(dead_letters.log_interval.count() >= 0, "dead_letters.log_interval must not be negative");
  require(!dead_letters.give_up_after || dead_letters.give_up_after->count() >= 0,
          "dead_letters.give_up_after must not be negative");
  require(close_grace.count() >= 0, "close_grace must not be negative");
  require(!topic_problem(anonymous_group_prefix), "anonymous_group_prefix must be a valid topic name");
  if (backend == backend_kind::kafka) kafka.validate();
  if (backend == backend_kind::nats) nats.validate();
}

void kafka_config::validate() const {
  require(!bootstrap.empty(), "kafka.bootstrap is empty (give servers, or \"embedded\")");
  require(embedded_brokers >= 1 && embedded_brokers <= 32, "kafka.embedded_brokers must be between 1 and 32");
  require(topics == topic_strategy::create_if_missing || topics == topic_strategy::validate_only ||
              topics == topic_strategy::skip,
          "kafka.topics is not a topic_strategy");
  require(partitions >= 1 && partitions <= 100000, "kafka.partitions must be between 1 and 100000");
  require(replication >= 1 && replication <= 1000, "kafka.replication must be between 1 and 1000");
  require(!retention || retention->count() > 0, "kafka.retention must be positive");
  require(connect_timeout.count() > 0, "kafka.connect_timeout must be positive");
  require(commit_interval.count() > 0, "kafka.commit_interval must be positive");
  require(max_in_flight >= 1, "kafka.max_in_flight must be at least 1");
  require(revoke_timeout.count() >= 0, "kafka.revoke_timeout must not be negative");
  require(close_timeout.count() >= 0, "kafka.close_timeout must not be negative");
}

void nats_config::validate() const {
  require(!url.empty(), "nats.url is empty (give servers, or \"embedded\")");
  require(topics == topic_strategy::create_if_missing || topics == topic_strategy::validate_only ||
              topics == topic_strategy::skip,
          "nats.topics is not a topic_strategy");
  require(storage == nats_storage::file || storage == nats_storage::memory, "nats.storage is not file or memory");
  require(retention == nats_retention::limits || retention == nats_retention::interest ||
              retention == nats_retention::work_queue,
          "nats.retention is not limits, interest or work_queue");
  require(replicas >= 1 && replicas <= 5, "nats.replicas must be between 1 and 5");
  require(!max_age || max_age->count() > 0, "nats.max_age must be positive");
  require(!max_bytes || *max_bytes > 0, "nats.max_bytes must be positive");
  require(duplicate_window.count() >= 0, "nats.duplicate_window must not be negative");
  require(max_in_flight >= 1 && max_in_flight <= 1'000'000, "nats.max_in_flight must be between 1 and 1000000");
  require(max_held <= 1'000'000, "nats.max_held must be at most 1000000");
  require(ack_wait.count() >= 1000, "nats.ack_wait must be at least 1000 ms");
  require(pull_batch >= 1 && pull_batch <= 100000, "nats.pull_batch must be between 1 and 100000");
  require(pull_expires.count() >= 1000, "nats.pull_expires must be at least 1000 ms");
  require(partitions >= 0 && partitions <= 1024, "nats.partitions must be between 0 (none) and 1024");
  require(lease_ttl.count() >= 3000, "nats.lease_ttl must be at least 3000 ms");
  require(revoke_timeout.count() >= 0, "nats.revoke_timeout must not be negative");
  require(connect_timeout.count() > 0, "nats.connect_timeout must be positive");
  require(publish_timeout.count() > 0, "nats.publish_timeout must be positive");
  require(reconnect_wait.count() >= 0, "nats.reconnect_wait must not be negative");
  require(max_reconnects >= -1, "nats.max_reconnects must be -1 (forever) or more");
  require(close_timeout.count() >= 0, "nats.close_timeout must not be negative");
  const auto& s = security;
  require(s.password.empty() || !s.user.empty(), "nats.security.password is set without a user");
  require(s.nkey_public.empty() == s.nkey_seed_file.empty(),
          "nats.security.nkey_public and nkey_seed_file go together");
  require(s.tls_cert_file.empty() == s.tls_key_file.empty(),
          "nats.security.tls_cert_file and tls_key_file go together");
  const int methods = !s.user.empty() + !s.token.empty() + !s.creds_file.empty() + !s.nkey_public.empty();
  require(methods <= 1, "nats.security: give one of user/password, token, creds_file, nkey");
}

}  // namespace corobus
