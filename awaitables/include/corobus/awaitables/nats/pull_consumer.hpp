#pragma once
// A JetStream pull fetch from the event loop, over the JetStream protocol: a request to
// `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with batch, expires and (for longer waits)
// an idle heartbeat, answered on a reply subject of its own (so an orphaned request can never
// feed a later fetch: its late messages reach nobody and are redelivered after the ack wait).
// A fetch ends when its batch is full, at the server's 408 or 404, at a 409 (its messages so
// far), at a missed heartbeat, or at a client deadline a second beyond `expires` (2.9.10 can
// let a request expire without its 408). Never natsSubscription_Fetch: it blocks on replies
// only the loop reads, and 3.4.1's has a heap overflow (nats.c #749).
// Each message is acknowledged through its own jetstream_message::acknowledge.
#include <corobus/awaitables/nats/jetstream_message.hpp>
#include <corobus/awaitables/nats/reply_router.hpp>
#include <corobus/runtime/async_op.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace corobus::nats {

class pull_consumer {
 public:
  using completion_signature = void(boost::system::error_code, std::vector<jetstream_message>);

  pull_consumer(connection& conn, reply_router& replies, std::string stream, std::string consumer);

  // Up to `batch` messages, waiting at most `expires` for the first ones. Completes with what
  // came (possibly nothing); errors: NATS_MISSED_HEARTBEAT (the server stopped answering)
  // and NATS_ERR for a 409 with nothing delivered (its description is logged). Cancelled
  // through its slot (any type), it ends at once with operation_aborted and the messages that
  // came so far (acknowledge or give them back: the server counts them as delivered).
  template <class Token = default_token>
  auto async_fetch(int batch, std::chrono::milliseconds expires, Token&& token = {}) {
    return asio::async_initiate<Token, completion_signature>(
        [this](auto handler, int b, std::chrono::milliseconds e) {
          asio::dispatch(conn_.get_executor(),
                         [this, h = any_handler_of<std::vector<jetstream_message>>(std::move(handler)), b,
                          e]() mutable { start(b, e, std::move(h)); });
        },
        token, batch, expires);
  }

 private:
  struct fetch;
  void start(int batch, std::chrono::milliseconds expires, any_handler_of<std::vector<jetstream_message>> handler);

  connection& conn_;
  reply_router& replies_;
  std::string stream_;
  std::string consumer_;
  std::string next_subject_;
};

}  // namespace corobus::nats
