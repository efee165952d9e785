#pragma once
// Topic administration without blocking an io thread: CreateTopics posts its result to a
// queue of our own, which wakes the awaiting coroutine like any other event_queue.
#include <corobus/runtime/asio.hpp>
#include <corobus/runtime/topic_strategy.hpp>

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace corobus::kafka {

struct topic_spec {
  std::string name;
  int partitions = 6;
  int replication = 1;
  std::optional<std::chrono::milliseconds> retention;  // retention.ms, broker default if unset
};

// Applies `strategy` to `topics` through the client `rk` (any producer or consumer), waking on
// `ex`. Broker errors are thrown in the kafka category.
asio::awaitable<void> async_ensure_topics(rd_kafka_t* rk, asio::any_io_executor ex, std::vector<topic_spec> topics,
                                          topic_strategy strategy,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace corobus::kafka
