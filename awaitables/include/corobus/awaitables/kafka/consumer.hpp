#pragma once
// A Kafka group consumer as awaitable batch polls.
//
// Everything the consumer has to say arrives as events on its consumer queue (the main queue
// is forwarded there by rd_kafka_poll_set_consumer): fetched messages, rebalances, errors
// (commit answers come on a queue of their own). async_poll() drains that queue without blocking (see event_queue) and
// returns what it found. A rebalance ends the batch: librdkafka keeps the rebalance pending
// until apply_rebalance() is called, so the owner can first finish and commit the revoked
// partitions' work. (A rebalance callback could not wait: it runs inside the poll.)
#include <corobus/awaitables/kafka/config.hpp>
#include <corobus/awaitables/kafka/event_queue.hpp>
#include <corobus/awaitables/kafka/record.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corobus::kafka {

struct topic_partition {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = RD_KAFKA_OFFSET_INVALID;  // for commits: the next offset to read
};

struct rebalance {
  bool assign = false;  // true: `partitions` are being assigned; false: revoked
  std::vector<topic_partition> partitions;
};

// The broker's answer to one commit(): the offsets it stored, those it refused, and why.
struct commit_result {
  std::vector<topic_partition> stored;
  std::vector<topic_partition> refused;
  boost::system::error_code error;  // the first error, if any
  std::uintptr_t tag = 0;           // what that commit() was given
};

// What one poll found.
struct poll_result {
  std::vector<record> records;
  std::optional<kafka::rebalance> rebalance;  // call apply_rebalance() before the next poll
  std::vector<boost::system::error_code> errors;
};

class consumer {
 public:
  // `ex` should be a strand; `props` must name group.id. Offsets are committed only by
  // commit(): enable.auto.commit is off, and auto.offset.reset defaults to earliest.
  consumer(asio::any_io_executor ex, const properties& props);
  // Destroys the client, which blocks until its threads end: never on an io thread. Call
  // async_close() first to leave the group cleanly; a consumer that did not finish closing
  // (no broker answered) is destroyed without waiting for the group.
  ~consumer();

  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;

  rd_kafka_t* handle() const noexcept { return client_.get(); }

  // Replaces the subscription (the group rebalances); none at all when `topics` is empty.
  void subscribe(const std::vector<std::string>& topics);

  // Waits until there is something, then completes (void(error_code, poll_result)) with up to
  // `max_records` records, stopping early at a rebalance. Cancelled while it waits, it
  // completes with operation_aborted and takes nothing.
  template <class Token = default_token>
  auto async_poll(std::size_t max_records, Token&& token = {}) {
    return launch(poll_op(max_records), std::forward<Token>(token), start_on(events_.get_executor()));
  }
  // Completes (void(error_code)) when something may have arrived since the last poll or
  // wait: a record, a rebalance, an error, or the answer to a commit. Cancelled, it completes
  // with operation_aborted. For an owner that holds back from polling records for a while.
  template <class Token = default_token>
  auto async_wait(Token&& token = {}) {
    return events_.async_wait(std::forward<Token>(token));
  }
  // The same without waiting: what is ready now (possibly nothing). Errors are logged here.
  poll_result try_poll(std::size_t max_records);

  // Completes the rebalance a poll returned (assign, or give up the revoked partitions).
  void apply_rebalance(const kafka::rebalance& r);

  // Commits `offsets` without waiting; take_commit_results() has the broker's answer later,
  // with `tag`, so the caller can tell which commit it answers.
  void commit(const std::vector<topic_partition>& offsets, std::uintptr_t tag = 0);
  // The answers to commit() that arrived, without waiting. They come on a queue of their
  // own, not behind fetched records, so an owner that holds back from polling records still
  // learns what was stored.
  std::vector<commit_result> take_commit_results();
  // Commits and waits (blocking): for close, not on an io thread.
  boost::system::error_code commit_sync(const std::vector<topic_partition>& offsets);

  void pause(const std::vector<topic_partition>& partitions);
  void resume(const std::vector<topic_partition>& partitions);

  // Leaves the group: revokes the assignment (served here) and closes the consumer;
  // void(error_code). Cancelled, it stops waiting for the group (operation_aborted): the
  // destructor then closes without it.
  template <class Token = default_token>
  auto async_close(Token&& token = {}) {
    return launch(close_op(), std::forward<Token>(token), start_on(events_.get_executor()));
  }

 private:
  asio::awaitable<poll_result> poll_op(std::size_t max_records);
  asio::awaitable<void> close_op();

  client_ptr client_;
  event_queue events_;
  queue_ptr commit_results_;  // destroyed before the client
};

}  // namespace corobus::kafka
