#pragma once
// Topic administration without blocking an io thread: CreateTopics posts its result to a
// queue of our own, which wakes the awaiting coroutine like any other event_queue.
#include <corobus/awaitables/topic_strategy.hpp>
#include <corobus/runtime/asio.hpp>
#include <corobus/runtime/async_op.hpp>

#include <librdkafka/rdkafka.h>
#include <boost/system/error_code.hpp>

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

// Whether a broker reachable through `rk` answers a metadata request within `timeout`:
// nothing, or the error it ended with (kafka category). Blocks: not on an io thread.
boost::system::error_code request_metadata(rd_kafka_t* rk, std::chrono::milliseconds timeout);

namespace detail {
asio::awaitable<void> ensure_topics_op(rd_kafka_t* rk, asio::any_io_executor ex, std::vector<topic_spec> topics,
                                       topic_strategy strategy, std::chrono::milliseconds timeout);
}  // namespace detail

// Applies `strategy` to `topics` through the client `rk` (any producer or consumer), waking on
// `ex`, within `timeout`; void(error_code), broker errors in the kafka category. Cancelled,
// it stops waiting (operation_aborted); the broker may still create the topics.
template <class Token = default_token>
auto async_ensure_topics(rd_kafka_t* rk, asio::any_io_executor ex, std::vector<topic_spec> topics,
                         topic_strategy strategy, std::chrono::milliseconds timeout, Token&& token = {}) {
  auto op = detail::ensure_topics_op(rk, ex, std::move(topics), strategy, timeout);
  return launch(std::move(op), std::forward<Token>(token), start_on(std::move(ex)));
}

}  // namespace corobus::kafka
