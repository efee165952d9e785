#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/pull_subscription.hpp>
#include <corobus/runtime/log.hpp>
#include "nats/status.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

namespace corobus::nats {

pull_subscription::pull_subscription(connection& conn, reply_router& replies, std::string stream, std::string consumer,
                                     options opts, std::function<int()> room)
    : conn_(conn),
      replies_(replies),
      stream_(std::move(stream)),
      consumer_(std::move(consumer)),
      next_subject_(fmt::format("$JS.API.CONSUMER.MSG.NEXT.{}.{}", stream_, consumer_)),
      opts_(opts),
      // The server refuses a heartbeat over half of expires (400 Bad Request); the watchdog
      // allows two.
      heartbeat_(std::max<std::chrono::milliseconds>(opts.expires / 5, std::chrono::milliseconds(100))),
      room_(std::move(room)),
      pending_(opts.batch, opts.batch / 2),
      wake_(conn.get_executor()),
      watchdog_(conn.get_executor()),
      deadline_(conn.get_executor()) {}

pull_subscription::~pull_subscription() { stop(); }

void pull_subscription::start() {
  running_ = true;
  draining_ = drained_ = interrupted_ = false;
  failure_ = {};
  pending_.reset();
  reply_ = replies_.new_route_subject();
  replies_.route(reply_, [this](msg_ptr m) { on_message(std::move(m)); });
  refill();
}

void pull_subscription::stop() {
  if (!running_) return;
  running_ = false;
  replies_.stop_routing(reply_);
  watchdog_.cancel();
  deadline_.cancel();
  wake_.cancel();
}

void pull_subscription::drain() {
  draining_ = true;
  interrupted_ = false;  // what was lost on the way is for the next owner
  refill();
}

void pull_subscription::take(std::vector<jetstream_message>& out) {
  out.clear();
  out.swap(buffer_);
}

asio::awaitable<void> pull_subscription::wait_op() {
  if (!running_) throw boost::system::system_error(asio::error::operation_aborted);
  if (!buffer_.empty() || failure_ || drained_ || interrupted_) co_return;
  wake_.expires_at(asio::steady_timer::time_point::max());
  co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled by on_message
  const auto& cancellation = co_await asio::this_coro::cancellation_state;
  if (cancellation.cancelled() != asio::cancellation_type::none || !running_)
    throw boost::system::system_error(asio::error::operation_aborted);
}

void pull_subscription::room_changed() noexcept {
  // A plain load first: every acknowledgement passes here, and only a starved pull needs the post.
  if (starved_.load() && starved_.exchange(false))
    asio::post(conn_.get_executor(), [this, alive = std::weak_ptr<int>(alive_)] {
      if (!alive.expired()) refill();
    });
}

void pull_subscription::restart() { reset("the connection is back"); }

void pull_subscription::resume() {
  interrupted_ = false;
  refill();
}

void pull_subscription::reset(const char* why) {
  if (!running_) return;
  const bool maybe_lost = pending_.pending() != 0 && !draining_;
  log().debug("JetStream pull {}.{}: {}; {}", stream_, consumer_, why,
              maybe_lost ? "messages asked for may be lost on the way" : "pulling afresh");
  pending_.reset();
  if (!maybe_lost) return refill();
  interrupted_ = true;
  wake_.cancel();
}

void pull_subscription::refill() {
  if (!running_ || failure_) return;
  if (draining_) {
    // The deadline, a missed heartbeat or a reconnect reset what is pending: nothing can come.
    if (pending_.pending() == 0 && !drained_) {
      drained_ = true;
      wake_.cancel();
    }
    return;
  }
  if (interrupted_) return;  // until resume()
  const int free = room_() - static_cast<int>(buffer_.size()) - pending_.pending();
  const int n = pending_.to_request(std::max(0, free));
  if (n == 0) {
    if (pending_.pending() != 0 || free > 0) return;  // what is asked for will come
    // Starved: the next acknowledgement posts a pull. One that came between the look above
    // and this store found nobody starved, so look once more (both sides sequentially
    // consistent: the owner's count, then this flag; this flag, then the count).
    starved_.store(true);
    if (room_() - static_cast<int>(buffer_.size()) > 0 && starved_.exchange(false)) refill();
    return;
  }
  const auto body =
      fmt::format(R"({{"batch":{},"expires":{},"idle_heartbeat":{}}})", n,
                  std::chrono::nanoseconds(opts_.expires).count(), std::chrono::nanoseconds(heartbeat_).count());
  if (const auto s =
          natsConnection_PublishRequestString(conn_.handle(), next_subject_.c_str(), reply_.c_str(), body.c_str());
      s != NATS_OK) {
    // Buffered while reconnecting, so this is a closed connection: nothing more to ask.
    log().warn("JetStream pull {}.{} not sent: {}", stream_, consumer_, natsStatus_GetText(s));
    return;
  }
  pending_.requested(n);
  watch();
  deadline_.expires_after(opts_.expires + std::chrono::seconds(1));
  deadline_.async_wait([this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
    if (!ec && !alive.expired()) reset("the last pull expired without its 408");
  });
}

void pull_subscription::watch() {
  last_heard_ = std::chrono::steady_clock::now();
  if (!watching_) arm_watchdog();
}

void pull_subscription::arm_watchdog() {
  watching_ = true;
  watchdog_.expires_at(last_heard_ + 2 * heartbeat_);
  watchdog_.async_wait([this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
    if (alive.expired()) return;
    watching_ = false;
    if (!ec) on_watchdog();
  });
}

void pull_subscription::on_watchdog() {
  if (!running_ || pending_.pending() == 0) return;
  // Heard meanwhile: looked at again two heartbeats after that.
  if (std::chrono::steady_clock::now() - last_heard_ < 2 * heartbeat_) return arm_watchdog();
  log().warn("JetStream pull {}.{}: no heartbeat for {} ms", stream_, consumer_, (2 * heartbeat_).count());
  reset("missed heartbeats");
}

void pull_subscription::on_message(msg_ptr m) {
  if (!running_) return;
  if (pending_.pending() != 0) watch();  // any message shows the server still serves the pulls
  const int status = detail::status_of(m.get());
  switch (status) {
    case 0:
      pending_.delivered();
      buffer_.emplace_back(std::move(m));
      if (buffer_.size() == 1) wake_.cancel();
      refill();
      return;
    case 100: return;  // idle heartbeat
    case 404:
    case 408:
      pending_.expired(detail::unfilled_of(m.get()));
      refill();
      return;
    default: break;
  }
  const auto why = detail::description_of(m.get());
  if (status == 409 && why.find("MaxBytes") != std::string::npos) {
    pending_.expired(detail::unfilled_of(m.get()));
    refill();
    return;
  }
  if (status == 400 || why.find("Consumer Deleted") != std::string::npos ||
      why.find("push based") != std::string::npos) {
    log().error("JetStream pull {}.{} ended by the server: {} {}", stream_, consumer_, status, why);
    failure_ = make_error_code(NATS_ERR);
    wake_.cancel();
    return;
  }
  // Exceeded MaxWaiting or a MaxRequest limit, a leadership change: the request is gone.
  log().warn("JetStream pull {}.{}: {} {}", stream_, consumer_, status, why);
  if (why.find("Leadership Change") != std::string::npos) return reset("the consumer's leader changed");
  pending_.reset();
  deadline_.expires_after(std::chrono::seconds(1));  // again in a moment, not in a loop
  deadline_.async_wait([this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
    if (!ec && !alive.expired()) refill();
  });
}

}  // namespace corobus::nats
