#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/pull_consumer.hpp>
#include <corobus/runtime/log.hpp>
#include "nats/status.hpp"

#include <fmt/format.h>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace corobus::nats {
using detail::description_of;
using detail::status_of;

// One fetch in flight, on the strand.
struct pull_consumer::fetch : std::enable_shared_from_this<fetch> {
  fetch(pull_consumer& c, int b, any_handler_of<std::vector<jetstream_message>> h)
      : owner(c), batch(b), handler(std::move(h)), deadline(c.conn_.get_executor()), watchdog(c.conn_.get_executor()) {}

  void finish(boost::system::error_code ec) {
    if (done) return;
    done = true;
    owner.replies_.stop_routing(reply);
    deadline.cancel();
    watchdog.cancel();
    asio::get_associated_cancellation_slot(handler).clear();  // asio's rule: empty on completion
    corobus::complete(std::move(handler), ec, std::move(messages));
  }
  void watch(std::chrono::milliseconds heartbeat) {
    if (heartbeat.count() == 0) return;
    watchdog.expires_after(2 * heartbeat);  // any message sets it again
    watchdog.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->done) return;
      self->finish(self->messages.empty() ? make_error_code(NATS_MISSED_HEARTBEAT) : boost::system::error_code{});
    });
  }

  pull_consumer& owner;
  int batch;
  any_handler_of<std::vector<jetstream_message>> handler;
  std::string reply;
  std::vector<jetstream_message> messages;
  asio::steady_timer deadline;
  asio::steady_timer watchdog;
  bool done = false;
};

pull_consumer::pull_consumer(connection& conn, reply_router& replies, std::string stream, std::string consumer)
    : conn_(conn),
      replies_(replies),
      stream_(std::move(stream)),
      consumer_(std::move(consumer)),
      next_subject_(fmt::format("$JS.API.CONSUMER.MSG.NEXT.{}.{}", stream_, consumer_)) {}

void pull_consumer::start(int batch, std::chrono::milliseconds expires, any_handler_of<std::vector<jetstream_message>> handler) {
  auto f = std::make_shared<fetch>(*this, batch < 1 ? 1 : batch, std::move(handler));
  f->reply = replies_.new_route_subject();
  // A heartbeat only for waits long enough to need one: the server refuses one over half of
  // `expires` (400 Bad Request), and the watchdog allows two of them.
  const auto heartbeat = expires >= std::chrono::seconds(2)
                             ? std::min<std::chrono::milliseconds>(expires / 2, std::chrono::seconds(30))
                             : std::chrono::milliseconds(0);
  replies_.route(f->reply, [f, heartbeat](msg_ptr m) {
    if (f->done) return;
    f->watch(heartbeat);
    switch (const int status = status_of(m.get())) {
      case 0:
        f->messages.emplace_back(std::move(m));
        if (static_cast<int>(f->messages.size()) >= f->batch) f->finish({});
        return;
      case 100: return;                 // idle heartbeat
      case 404:                         // no messages (no_wait)
      case 408: f->finish({}); return;  // the request expired: what came is the batch
      default: {
        const auto why = description_of(m.get());
        log().warn("JetStream pull from {}.{} answered {} {}", f->owner.stream_, f->owner.consumer_, status, why);
        f->finish(f->messages.empty() ? make_error_code(NATS_ERR) : boost::system::error_code{});
        return;
      }
    }
  });
  // Cancelled (any type): it ends now, with what came so far.
  if (auto slot = asio::get_associated_cancellation_slot(f->handler); slot.is_connected())
    slot.assign([weak = std::weak_ptr<fetch>(f), ex = conn_.get_executor()](asio::cancellation_type) {
      asio::post(ex, [weak] {
        if (const auto self = weak.lock()) self->finish(asio::error::operation_aborted);
      });
    });
  f->deadline.expires_after(expires + std::chrono::seconds(1));
  f->deadline.async_wait([f](boost::system::error_code ec) {
    if (!ec) f->finish({});  // no 408 came: the client's own end of the request
  });
  f->watch(heartbeat);
  const auto body =
      heartbeat.count() != 0
          ? fmt::format(R"({{"batch":{},"expires":{},"idle_heartbeat":{}}})", f->batch,
                        std::chrono::nanoseconds(expires).count(), std::chrono::nanoseconds(heartbeat).count())
          : fmt::format(R"({{"batch":{},"expires":{}}})", f->batch, std::chrono::nanoseconds(expires).count());
  if (const auto s =
          natsConnection_PublishRequestString(conn_.handle(), next_subject_.c_str(), f->reply.c_str(), body.c_str());
      s != NATS_OK)
    f->finish(make_error_code(s));
}

}  // namespace corobus::nats
