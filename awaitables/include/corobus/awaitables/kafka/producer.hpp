#pragma once
// A Kafka producer whose produce completes on the message's delivery report.
//
// Delivery reports arrive as RD_KAFKA_EVENT_DR events on the client's main queue; run()
// serves that queue from the io_context (see event_queue) and completes each awaiting
// async_produce with the broker's partition and offset, or its error. No io thread ever
// blocks in rd_kafka_poll. Many produces may be in flight at once; librdkafka batches them.
#include <corobus/awaitables/kafka/config.hpp>
#include <corobus/awaitables/kafka/event_queue.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace corobus::kafka {

struct delivery_report {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

// Adds a copy of one header.
inline void add_header(rd_kafka_headers_t* hs, std::string_view name, std::string_view value) {
  rd_kafka_header_add(hs, name.data(), static_cast<ssize_t>(name.size()), value.data(), value.size());
}

// Record headers from any range of objects with `name` and `value` members.
template <class Range>
headers_ptr make_headers(const Range& headers) {
  headers_ptr hs(rd_kafka_headers_new(8));
  for (const auto& h : headers) add_header(hs.get(), h.name, h.value);
  return hs;
}

class producer {
 public:
  // `ex` should be a strand: run() and the cancellation of its wait happen there.
  // `props` are librdkafka properties (bootstrap.servers, ...); idempotence is on unless
  // they say otherwise. Throws errc::invalid_config for a bad property.
  producer(asio::any_io_executor ex, const properties& props);
  // Destroys the client, which blocks until its threads end: never on an io thread.
  ~producer();

  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  rd_kafka_t* handle() const noexcept { return client_.get(); }
  const asio::any_io_executor& get_executor() const noexcept { return executor_; }

  // Serves delivery reports until cancelled (its cancellation slot). Run it as a task.
  asio::awaitable<void> run();

  // Sends one record. Completes with its delivery report; a broker or client error (mapped
  // into the kafka category) is thrown as system_error. The arguments are owned by the
  // operation: an awaitable starts only when awaited, so views could dangle by then.
  asio::awaitable<delivery_report> async_produce(std::string topic, std::string key, std::string value,
                                                 headers_ptr headers);

  // Waits (blocking) until every produced record has its report or `timeout` passed; true
  // when all were reported. run() must be serving meanwhile. Not on an io thread.
  bool flush(std::chrono::milliseconds timeout);

  // Fails every record not yet delivered: their produces complete with a purge error when
  // run() serves the reports. Does not block.
  void purge();

 private:
  struct pending;
  using completion = void(boost::system::error_code, delivery_report);

  // Starts one produce; `handler` completes with its report, or at once with the error that
  // refused it (RD_KAFKA_RESP_ERR__QUEUE_FULL included: the caller retries).
  void start(std::string_view topic, std::string_view key, std::string_view value, headers_ptr& headers,
             asio::any_io_executor handler_executor, asio::any_completion_handler<completion> handler);
  void serve_ready_events();

  asio::any_io_executor executor_;
  client_ptr client_;
  event_queue reports_;
};

}  // namespace corobus::kafka
