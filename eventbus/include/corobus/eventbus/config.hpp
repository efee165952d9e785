#pragma once
// Bus configuration. Every value is checked when the bus opens; a bad one is an
// errc::invalid_config error that names it.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

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

struct config {
  backend_kind backend = backend_kind::memory;
  std::size_t io_threads = 0;  // 0: one per hardware thread

  // Subscription defaults (subscribe_options may override them per subscription).
  std::size_t lanes = 256;           // keyed lanes per envelope subscription
  std::size_t lane_capacity = 64;   // messages a lane holds before intake waits
  std::size_t concurrency = 64;      // handlers at once in an unordered subscription
  std::size_t stream_capacity = 1000;
  retry_policy retry;

  // close(): how long in-flight handlers may finish before they are cancelled.
  std::chrono::milliseconds close_grace{5000};

  // Throws system_error(errc::invalid_config) naming the first bad value.
  void validate() const;
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
