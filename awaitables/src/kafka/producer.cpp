#include <corobus/awaitables/kafka/error.hpp>
#include <corobus/awaitables/kafka/producer.hpp>
#include <corobus/runtime/log.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>
#include <fmt/format.h>
#include <boost/asio/steady_timer.hpp>

namespace corobus::kafka {

// One produce waiting for its delivery report; its address travels as the message opaque.
struct producer::pending {
  asio::any_io_executor executor;
  asio::any_completion_handler<completion> handler;
};

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

void producer::start(std::string_view topic, std::string_view key, std::string_view value, headers_ptr& headers,
                     asio::any_io_executor handler_executor, asio::any_completion_handler<completion> handler) {
  // The handler goes into the op before producev: the report may be served on another io
  // thread before producev even returns. (Constructed, never assigned: asio 1.81's
  // any_completion_handler move assignment recurses without end.)
  auto op = std::make_unique<pending>(pending{std::move(handler_executor), std::move(handler)});
  const std::string topic_name(topic);  // producev wants a C string
  // Ownership moves to librdkafka before the call: once producev succeeds, the report may
  // already have resumed the awaiting coroutine on another thread and destroyed its frame,
  // which holds `headers`, `key` and `value`. Nothing of the caller's is touched after that.
  rd_kafka_headers_t* const raw_headers = headers.release();
  pending* const opaque = op.release();
  const auto err = rd_kafka_producev(
      client_.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_HEADERS(raw_headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // completed by serve_ready_events()
  // Refused at once (queue full, unknown topic, message too large, ...): no report will
  // come, so the caller is still waiting, the headers are still ours, and the error
  // completes the produce.
  headers.reset(raw_headers);
  op.reset(opaque);
  asio::post(op->executor, [h = std::move(op->handler), err]() mutable {
    std::move(h)(make_error_code(err), delivery_report{});
  });
}

asio::awaitable<delivery_report> producer::async_produce(std::string topic, std::string key, std::string value,
                                                         headers_ptr headers) {
  for (;;) {
    auto token = asio::as_tuple(asio::use_awaitable);
    auto outcome = co_await asio::async_initiate<decltype(token), completion>(
        [&](auto handler) {
          asio::any_io_executor handler_executor = asio::get_associated_executor(handler, executor_);
          start(topic, key, value, headers, std::move(handler_executor),
                asio::any_completion_handler<completion>(std::move(handler)));
        },
        token);
    const auto& ec = std::get<0>(outcome);
    if (!ec) co_return std::move(std::get<1>(outcome));
    if (ec != make_error_code(RD_KAFKA_RESP_ERR__QUEUE_FULL))
      throw boost::system::system_error(ec, fmt::format("producing to '{}'", topic));
    // librdkafka's queue (queue.buffering.max.messages) is full: let reports drain it.
    asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
    co_await pause.async_wait(asio::use_awaitable);
  }
}

void producer::serve_ready_events() {
  while (auto ev = reports_.poll()) {
    switch (rd_kafka_event_type(ev.get())) {
      case RD_KAFKA_EVENT_DR:
        while (const auto* m = rd_kafka_event_message_next(ev.get())) {
          std::unique_ptr<pending> op(static_cast<pending*>(m->_private));
          if (!op) continue;
          delivery_report r;
          r.topic = rd_kafka_topic_name(m->rkt);
          r.partition = m->partition;
          r.offset = m->offset;
          const auto ec = make_error_code(m->err);
          // Inline when the publisher's executor allows it (we run on an io thread of the
          // pool): a post per report would wake another thread for each message. A handler
          // that throws (the publisher's own completion handler, resumed inline) must not end
          // the serving of every other report: its exception goes on to an io thread's run(),
          // as a posted handler's would.
          try {
            asio::dispatch(op->executor, [h = std::move(op->handler), ec, r = std::move(r)]() mutable {
              std::move(h)(ec, std::move(r));
            });
          } catch (...) {
            asio::post(op->executor, [e = std::current_exception()] { std::rethrow_exception(e); });
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
