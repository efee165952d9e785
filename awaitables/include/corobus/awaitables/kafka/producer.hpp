#pragma once
// A Kafka producer whose produce completes on the message's delivery report.
//
// Delivery reports arrive as RD_KAFKA_EVENT_DR events on the client's main queue; run()
// serves that queue from the io_context (see event_queue) and completes each awaiting
// async_produce with the broker's partition and offset, or its error. No io thread ever
// blocks in rd_kafka_poll. Many produces may be in flight at once; librdkafka batches them.
#include <corobus/awaitables/kafka/config.hpp>
#include <corobus/awaitables/kafka/event_queue.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
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
  using completion_signature = void(boost::system::error_code, delivery_report);

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

  // Sends one record. Completes with its delivery report, or with a broker or client error
  // (mapped into the kafka category). While librdkafka's queue is full
  // (queue.buffering.max.messages) it tries again every millisecond. The operation owns its
  // arguments until then; once librdkafka has the record it cannot be withdrawn (purge()
  // fails it). One allocation per record: the handler lives in the record's opaque.
  template <asio::completion_token_for<completion_signature> Token = asio::use_awaitable_t<>>
  auto async_produce(std::string topic, std::string key, std::string value, headers_ptr headers,
                     Token&& token = {}) {
    return asio::async_initiate<Token, completion_signature>(
        [this](auto handler, std::string topic, std::string key, std::string value, headers_ptr headers) {
          using op = pending_with<std::decay_t<decltype(handler)>>;
          start(std::unique_ptr<pending>(new op(std::move(handler), std::move(topic), std::move(key),
                                                std::move(value), std::move(headers))));
        },
        token, std::move(topic), std::move(key), std::move(value), std::move(headers));
  }

  // Waits (blocking) until every produced record has its report or `timeout` passed; true
  // when all were reported. run() must be serving meanwhile. Not on an io thread.
  bool flush(std::chrono::milliseconds timeout);

  // Fails every record not yet delivered: their produces complete with a purge error when
  // run() serves the reports. Does not block.
  void purge();

 private:
  // One record on its way: what producev needs, then the handler its report completes.
  struct pending {
    pending(std::string t, std::string k, std::string v, headers_ptr h)
        : topic(std::move(t)), key(std::move(k)), value(std::move(v)), headers(std::move(h)) {}
    virtual ~pending() = default;
    // Calls the handler on its associated executor (inline when that is where we run).
    virtual void complete(const asio::any_io_executor& fallback, boost::system::error_code ec,
                          delivery_report r) = 0;
    std::string topic, key, value;
    headers_ptr headers;
  };
  template <class Handler>
  struct pending_with final : pending {
    pending_with(Handler h, std::string t, std::string k, std::string v, headers_ptr hs)
        : pending(std::move(t), std::move(k), std::move(v), std::move(hs)), handler(std::move(h)) {}
    void complete(const asio::any_io_executor& fallback, boost::system::error_code ec, delivery_report r) override {
      const auto ex = asio::get_associated_executor(handler, fallback);
      asio::dispatch(ex, [h = std::move(handler), ec, r = std::move(r)]() mutable { std::move(h)(ec, std::move(r)); });
    }
    Handler handler;
  };

  // Hands the record to librdkafka; a refusal other than a full queue completes it at once.
  void start(std::unique_ptr<pending> op);
  void serve_ready_events();

  asio::any_io_executor executor_;
  client_ptr client_;
  event_queue reports_;
};

}  // namespace corobus::kafka
