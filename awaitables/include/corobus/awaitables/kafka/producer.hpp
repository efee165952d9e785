#pragma once
// A Kafka producer whose produce completes on the message's delivery report.
//
// Delivery reports arrive as RD_KAFKA_EVENT_DR events on the client's main queue; async_run()
// serves that queue from the io_context (see event_queue) and completes each awaiting
// async_produce with the broker's partition and offset, or its error. No io thread ever
// blocks in rd_kafka_poll. Many produces may be in flight at once; librdkafka batches them.
#include <corobus/awaitables/kafka/config.hpp>
#include <corobus/awaitables/kafka/detail/produce_ops.hpp>
#include <corobus/awaitables/kafka/event_queue.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace corobus::kafka {

// Adds a copy of one header.
inline void add_header(rd_kafka_headers_t* hs, std::string_view name, std::string_view value) {
  rd_kafka_header_add(hs, name.data(), static_cast<ssize_t>(name.size()), value.data(), value.size());
}

inline headers_ptr empty_headers() { return headers_ptr(rd_kafka_headers_new(8)); }

// Record headers from any range of objects with `name` and `value` members.
template <class Range>
headers_ptr make_headers(const Range& headers) {
  auto hs = empty_headers();
  for (const auto& h : headers) add_header(hs.get(), h.name, h.value);
  return hs;
}

class producer {
 public:
  using completion_signature = void(boost::system::error_code, delivery_report);
  // The first error (if any record failed) and every record's report, in the batch's order.
  using batch_completion_signature = void(boost::system::error_code, std::vector<delivery_report>);

  // `ex` should be a strand: async_run() and the cancellation of its wait happen there.
  // `props` are librdkafka properties (bootstrap.servers, ...); idempotence is on unless
  // they say otherwise. Throws errc::invalid_config for a bad property.
  producer(asio::any_io_executor ex, const properties& props);
  // Destroys the client, which blocks until its threads end: never on an io thread.
  ~producer();

  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  rd_kafka_t* handle() const noexcept { return client_.get(); }
  const asio::any_io_executor& get_executor() const noexcept { return executor_; }
  // message.max.bytes: librdkafka refuses a larger record (key, value, headers and framing)
  // at once with MSG_SIZE_TOO_LARGE.
  std::size_t max_message_bytes() const;
  // Has librdkafka look up `topic`'s partition leaders now, so that the first record sent
  // there does not wait for them. Does not block.
  void learn_topic(const std::string& topic);

  // Serves delivery reports until cancelled (operation_aborted, through its token's slot):
  // void(error_code). Run it as a task.
  template <class Token = default_token>
  auto async_run(Token&& token = {}) {
    return launch(run_op(), std::forward<Token>(token), start_on(executor_));
  }

  // Sends one record. Completes with its delivery report, or with a broker or client error
  // (mapped into the kafka category). While librdkafka's queue is full
  // (queue.buffering.max.messages) it tries again every millisecond. The operation owns its
  // arguments until then; once librdkafka has the record it cannot be withdrawn (purge()
  // fails it). One allocation per record: the handler lives in the record's opaque.
  template <asio::completion_token_for<completion_signature> Token = default_token>
  auto async_produce(std::string topic, std::string key, std::string value, headers_ptr headers, Token&& token = {}) {
    return asio::async_initiate<Token, completion_signature>(
        [this](auto handler, outgoing_record record) {
          start(std::make_unique<detail::produce_op_with<std::decay_t<decltype(handler)>>>(std::move(handler),
                                                                                           std::move(record)));
        },
        token, outgoing_record{std::move(topic), std::move(key), std::move(value), std::move(headers)});
  }

  // Sends `records` in their order (a full queue holds back the rest of the batch, never
  // reorders it) and completes once every one has its report: one completion for many
  // records. A record refused or failed makes the first such error the batch's; the other
  // records are sent and reported all the same.
  template <asio::completion_token_for<batch_completion_signature> Token = default_token>
  auto async_produce_batch(std::vector<outgoing_record> records, Token&& token = {}) {
    return asio::async_initiate<Token, batch_completion_signature>(
        [this](auto handler, std::vector<outgoing_record> records) {
          auto b = std::make_shared<detail::batch_op_with<std::decay_t<decltype(handler)>>>(
              std::move(handler), std::move(records), executor_);
          start_batch(std::move(b), 0);
        },
        token, std::move(records));
  }

  // Waits (blocking) until every produced record has its report or `timeout` passed; true
  // when all were reported. async_run() must be serving meanwhile. Not on an io thread.
  bool flush(std::chrono::milliseconds timeout);

  // Fails every record not yet delivered: their produces complete with a purge error when
  // async_run() serves the reports. Does not block.
  void purge();

 private:
  asio::awaitable<void> run_op();
  // Hands the record to librdkafka. Refused, the record comes back in `op` with the error.
  rd_kafka_resp_err_t try_start(std::unique_ptr<detail::produce_op>& op);
  // Completes `op` with `err` from the executor, never inside the initiation (the caller's
  // coroutine has not suspended yet).
  void refuse(std::unique_ptr<detail::produce_op> op, rd_kafka_resp_err_t err);
  void start_batch(std::shared_ptr<detail::batch_op> b, std::size_t from);
  // try_start(), again after a millisecond while the queue is full; refuse() otherwise.
  void start(std::unique_ptr<detail::produce_op> op);
  void serve_ready_events();

  asio::any_io_executor executor_;
  client_ptr client_;
  event_queue reports_;
};

}  // namespace corobus::kafka
