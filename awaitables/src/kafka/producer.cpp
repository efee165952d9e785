#include <corobus/awaitables/kafka/error.hpp>
#include <corobus/awaitables/kafka/producer.hpp>
#include <corobus/runtime/log.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace corobus::kafka {

namespace {

conf_ptr producer_conf(const properties& props) {
  // linger.ms 1, not librdkafka's 5: every produce is awaited until its delivery report, so
  // the linger adds to each publish's latency, and concurrent publishers fill the batches.
  auto conf = make_conf({{"enable.idempotence", "true"}, {"linger.ms", "1"}}, props);
  // Delivery reports as events on the main queue, served by run(); errors too, so that a
  // broker-level error is logged by us instead of by librdkafka on its own thread.
  rd_kafka_conf_set_events(conf.get(), RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR);
  return conf;
}

}  // namespace

producer::producer(asio::any_io_executor ex, const properties& props)
    : executor_(ex),
      client_(make_client(RD_KAFKA_PRODUCER, producer_conf(props))),
      reports_(std::move(ex), queue_ptr(rd_kafka_queue_get_main(client_.get()))) {}

producer::~producer() = default;

void producer::start(std::unique_ptr<pending> op) {
  // Ownership of the record and its headers moves to librdkafka before the call: once
  // producev succeeds, the report may complete the operation on another io thread before
  // producev even returns. Nothing of the operation is touched after that.
  rd_kafka_headers_t* const headers = op->headers.release();
  pending* const opaque = op.release();
  const auto err = rd_kafka_producev(
      client_.get(), RD_KAFKA_V_TOPIC(opaque->topic.c_str()), RD_KAFKA_V_KEY(opaque->key.data(), opaque->key.size()),
      RD_KAFKA_V_VALUE(opaque->value.data(), opaque->value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // completed by serve_ready_events()
  // Refused at once: no report will come, and the record and its headers are still ours.
  op.reset(opaque);
  op->headers.reset(headers);
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {  // reports will drain the queue: try again soon
    auto pause = std::make_shared<asio::steady_timer>(executor_, std::chrono::milliseconds(1));
    pause->async_wait([this, pause, op = std::move(op)](boost::system::error_code) mutable { start(std::move(op)); });
    return;
  }
  // Unknown topic, message too large, ...: completed from the executor, never inside the
  // initiation (the caller's coroutine has not suspended yet).
  asio::post(executor_, [this, op = std::move(op), err]() mutable {
    op->complete(executor_, make_error_code(err), delivery_report{std::move(op->topic)});
  });
}

void producer::serve_ready_events() {
  while (auto ev = reports_.poll()) {
    switch (rd_kafka_event_type(ev.get())) {
      case RD_KAFKA_EVENT_DR:
        while (const auto* m = rd_kafka_event_message_next(ev.get())) {
          std::unique_ptr<pending> op(static_cast<pending*>(m->_private));
          if (!op) continue;
          // Inline when the handler's executor allows it (we run on an io thread of the
          // pool): a post per report would wake another thread for each message. A handler
          // that throws (the publisher's own completion handler, resumed inline) must not end
          // the serving of every other report: its exception goes on to an io thread's run(),
          // as a posted handler's would.
          try {
            op->complete(executor_, make_error_code(m->err), delivery_report{std::move(op->topic), m->partition, m->offset});
          } catch (...) {
            asio::post(executor_, [e = std::current_exception()] { std::rethrow_exception(e); });
          }
        }
        break;
      case RD_KAFKA_EVENT_ERROR:
        log().warn("kafka producer: {}", rd_kafka_event_error_string(ev.get()));
        break;
      default:
        break;
    }
  }
}

asio::awaitable<void> producer::run() {
  for (;;) {
    serve_ready_events();
    co_await reports_.async_wait();  // throws operation_aborted when the task is cancelled
  }
}

bool producer::flush(std::chrono::milliseconds timeout) {
  return rd_kafka_flush(client_.get(), static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void producer::purge() {
  // In-flight requests are abandoned too: their records report _PURGE_INFLIGHT.
  rd_kafka_purge(client_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

}  // namespace corobus::kafka
