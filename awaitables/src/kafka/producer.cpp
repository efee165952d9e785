#include <corobus/awaitables/kafka/error.hpp>
#include <corobus/awaitables/kafka/producer.hpp>

#include <corobus/runtime/log.hpp>

#include <array>
#include <string>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace corobus::kafka {

namespace {

conf_ptr producer_conf(const properties& props) {
  // linger.ms 1, not librdkafka's 5: every produce is awaited until its delivery report, so
  // the linger adds to each publish's latency, and concurrent publishers fill the batches.
  auto conf = make_conf({{"enable.idempotence", "true"}, {"linger.ms", "1"}}, props);
  // Delivery reports as events on the main queue, served by async_run(); errors too, so that a
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

void producer::learn_topic(const std::string& topic) {
  // A new topic handle makes librdkafka ask the brokers for the topic's leaders now (without
  // blocking); otherwise the first record to it waits for that round trip and for the next
  // metadata refresh, which was seen to take 0.75 s. The handle only keeps the topic known.
  rd_kafka_topic_t* handle = rd_kafka_topic_new(client_.get(), topic.c_str(), nullptr);
  if (handle) rd_kafka_topic_destroy(handle);
}

std::size_t producer::max_message_bytes() const {
  std::array<char, 32> value{};
  std::size_t size = value.size();
  if (rd_kafka_conf_get(rd_kafka_conf(client_.get()), "message.max.bytes", value.data(), &size) != RD_KAFKA_CONF_OK)
    return 1'000'000;  // librdkafka's default
  return std::stoull(value.data());
}

rd_kafka_resp_err_t producer::try_start(std::unique_ptr<detail::produce_op>& op) {
  // Ownership of the record and its headers moves to librdkafka before the call: once
  // producev succeeds, the report may complete the operation on another io thread before
  // producev even returns. Nothing of the operation is touched after that.
  rd_kafka_headers_t* const headers = op->record.headers.release();
  detail::produce_op* const opaque = op.release();
  const auto& r = opaque->record;
  const auto err = rd_kafka_producev(
      client_.get(), RD_KAFKA_V_TOPIC(r.topic.c_str()), RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return err;  // completed by serve_ready_events()
  // Refused at once: no report will come, and the record and its headers are still ours.
  op.reset(opaque);
  op->record.headers.reset(headers);
  return err;
}

void producer::refuse(std::unique_ptr<detail::produce_op> op, rd_kafka_resp_err_t err) {
  asio::post(executor_, [this, op = std::move(op), err]() mutable {
    op->complete(executor_, make_error_code(err), delivery_report{std::move(op->record.topic)});
  });
}

namespace {

// librdkafka's queue (queue.buffering.max.messages) is full: reports will drain it, so
// `retry` runs a millisecond later.
template <class Retry>
void after_queue_full_pause(const asio::any_io_executor& ex, Retry retry) {
  auto pause = std::make_shared<asio::steady_timer>(ex, std::chrono::milliseconds(1));
  pause->async_wait([pause, retry = std::move(retry)](boost::system::error_code) mutable { retry(); });
}

}  // namespace

void producer::start(std::unique_ptr<detail::produce_op> op) {
  const auto err = try_start(op);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return refuse(std::move(op), err);
  after_queue_full_pause(executor_, [this, op = std::move(op)]() mutable { start(std::move(op)); });
}

void producer::start_batch(std::shared_ptr<detail::batch_op> b, std::size_t from) {
  if (b->records.empty()) {  // nothing to wait for: completed from the executor all the same
    asio::post(executor_, [b = std::move(b)] { b->complete(); });
    return;
  }
  for (std::size_t i = from; i < b->records.size(); ++i) {
    std::unique_ptr<detail::produce_op> op = std::make_unique<detail::produce_op_with<detail::batch_member>>(
        detail::batch_member{b, i}, std::move(b->records[i]));
    const auto err = try_start(op);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      refuse(std::move(op), err);
      continue;
    }
    // The rest waits behind this record, so that the batch keeps its order.
    b->records[i] = std::move(op->record);
    after_queue_full_pause(executor_, [this, b = std::move(b), i]() mutable { start_batch(std::move(b), i); });
    return;
  }
}

void producer::serve_ready_events() {
  while (auto ev = reports_.poll()) {
    switch (rd_kafka_event_type(ev.get())) {
      case RD_KAFKA_EVENT_DR:
        while (const auto* m = rd_kafka_event_message_next(ev.get())) {
          std::unique_ptr<detail::produce_op> op(static_cast<detail::produce_op*>(m->_private));
          if (!op) continue;
          // A handler that throws (the publisher's own completion handler, resumed inline)
          // must not end the serving of every other report: its exception goes on to an io
          // thread's run(), as a posted handler's would.
          try {
            op->complete(executor_, make_error_code(m->err),
                         delivery_report{std::move(op->record.topic), m->partition, m->offset});
          } catch (...) {
            asio::post(executor_, [e = std::current_exception()] { std::rethrow_exception(e); });
          }
        }
        break;
      case RD_KAFKA_EVENT_ERROR: log().warn("kafka producer: {}", rd_kafka_event_error_string(ev.get())); break;
      default: break;
    }
  }
}

asio::awaitable<void> producer::run_op() {
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
