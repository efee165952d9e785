#include "backends/nats/nats_group_consumer.hpp"
#include <corobus/runtime/log.hpp>
#include "core/handoff.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>

namespace corobus::detail {
namespace {

nats::pull_subscription::options pull_options(const nats_config& cfg, const pull_target& t) {
  nats::pull_subscription::options o;
  o.batch = std::min<int>(cfg.pull_batch, static_cast<int>(t.window));
  o.expires = t.pull_expires;
  return o;
}

}  // namespace

nats_group_consumer::nats_group_consumer(const consumer_context& context, std::shared_ptr<group_routes> routes,
                                         pull_target target)
    : context_(context),
      cfg_(context.cfg),
      target_(std::move(target)),
      routes_(std::move(routes)),
      window_(std::make_shared<ack_window>(&context.conn, target_.window, target_.max_held, target_.durable,
                                           &context.backend.stats.given_back)),
      pulls_(context.conn, context.replies, target_.stream, target_.durable, pull_options(cfg_, target_),
             [this] { return room(); }),
      tick_(context.conn.get_executor()),
      settle_(context.conn.get_executor()) {
  window_->on_room([this] { pulls_.room_changed(); });
}

nats_group_consumer::~nats_group_consumer() { window_->on_room({}); }

int nats_group_consumer::room() const {
  // Nobody here takes its messages, or they are another member's now: nothing is pulled
  // (what still comes is given back).
  return routes_->any() && !window_->revoked() ? window_->room() : 0;
}

incoming_message nats_group_consumer::to_incoming(nats::jetstream_message m) {
  auto fetched = std::make_shared<nats_delivery>(window_, std::move(m), target_.topic, target_.partition);
  window_->opened(*fetched);
  std::shared_ptr<const message> msg(fetched, &fetched->msg);
  std::shared_ptr<ack_handle> source(fetched, static_cast<ack_handle*>(fetched.get()));
  incoming_message in(std::move(msg), nullptr, std::move(source));
  in.fetched = std::move(fetched);
  return in;
}

void nats_group_consumer::hold_back(std::vector<nats::jetstream_message>& batch) {
  for (auto& m : batch) {
    nats_delivery d(window_, std::move(m), target_.topic, target_.partition);
    window_->opened(d);
    window_->hold_back(d);
  }
  batch.clear();
}

asio::awaitable<void> nats_group_consumer::run() {
  pulls_.start();
  const auto& cancellation = co_await asio::this_coro::cancellation_state;
  asio::steady_timer retry(co_await asio::this_coro::executor);
  std::vector<nats::jetstream_message> batch;
  std::vector<incoming_message> taken;  // kept: a window's worth is too large to allocate each time
  for (;;) {
    try {
      co_await pulls_.async_wait();  // the default token: no task of its own per wait
    } catch (const boost::system::system_error&) {
      co_return;  // abandoned (or the bus closes)
    }
    if (window_->revoked()) {
      // Revoked or fenced: nothing more is asked for (an interrupted pull would otherwise
      // wake this loop at once, forever).
      pulls_.drain();
      pulls_.take(batch);
      hold_back(batch);
      if (pulls_.drained()) co_return;
      continue;
    }
    if (pulls_.failure()) {
      // The server ended the consumer (deleted, or replaced by a push consumer): nothing
      // comes until someone acts; looked at again every ack wait.
      log().error("JetStream consumer '{}' failed; retrying in {} ms", target_.durable, cfg_.ack_wait.count());
      retry.expires_after(cfg_.ack_wait);
      co_await retry.async_wait(asio::use_awaitable);
      pulls_.stop();
      pulls_.start();
      continue;
    }
    pulls_.take(batch);
    taken.clear();
    for (auto& m : batch) taken.push_back(to_incoming(std::move(m)));  // in the window before the next pull
    pulls_.refill();
    const auto current = routes_->current();
    for (auto& in : taken)
      if (!routes_->try_deliver(*current, in)) co_await routes_->deliver(std::move(in));
    if (pulls_.interrupted()) {  // what came before is handed over; what was lost on the way comes first
      co_await settle();
      if (cancellation.cancelled() != asio::cancellation_type::none) co_return;
      pulls_.resume();
    }
  }
}

asio::awaitable<void> nats_group_consumer::settle() {
  const auto since = std::chrono::steady_clock::now();
  std::function<std::int64_t()> look = [&admin = context_.admin, t = target_] {
    return admin.ack_pending(t.stream, t.durable);
  };
  std::int64_t pending = -1;
  try {
    pending = co_await call_rethrowing(context_.blocking, std::move(look));
  } catch (const std::exception& e) {
    log().warn("JetStream consumer '{}': {}; waiting out the ack wait to be safe", target_.durable, e.what());
  }
  // What reached this member, handed over or not yet taken from the pulls.
  const auto held = static_cast<std::int64_t>(window_->in_flight() + window_->held() + pulls_.buffered());
  if (pending >= 0 && pending <= held) co_return;
  if (window_->revoked()) co_return;  // given back, not pulled on
  if (pending > held)
    log().info(
        "JetStream consumer '{}': {} message(s) pending on the server, {} here; pulling again in {} ms, "
        "after their redelivery",
        target_.durable, pending, held, cfg_.ack_wait.count());
  settle_.expires_at(since + cfg_.ack_wait + std::chrono::milliseconds(250));
  co_await settle_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> nats_group_consumer::keep_alive() {
  const auto every = cfg_.ack_wait / 3;
  while (!keep_alive_stopped_) {
    tick_.expires_after(every);
    co_await tick_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (const auto n = window_->keep_alive(std::chrono::steady_clock::now() - every); n != 0)
      log().debug("JetStream consumer '{}': {} message(s) still in progress", target_.durable, n);
  }
}

void nats_group_consumer::stop() {
  pulls_.stop();
  std::vector<nats::jetstream_message> left;
  pulls_.take(left);
  for (auto& m : left) {
    nats_delivery d(window_, std::move(m), target_.topic, target_.partition);
    window_->opened(d);
    d.released(d.msg);
  }
}

std::size_t nats_group_consumer::give_back() {
  window_->revoke();  // what stop() finds still in the pulls is held back too, to go out in order
  stop();
  return window_->give_back_in_order();
}

void nats_group_consumer::revoke(std::function<void()> ended) {
  window_->on_room([this, ended = std::move(ended)] {
    pulls_.room_changed();
    ended();
  });
  window_->revoke();
  pulls_.drain();
  settle_.cancel();
}

void nats_group_consumer::abandon() {
  window_->revoke();
  window_->disconnect();
  pulls_.stop();
  stop_keep_alive();
  settle_.cancel();
}

asio::awaitable<void> nats_group_consumer::drain_pulls() {
  pulls_.drain();
  std::vector<nats::jetstream_message> batch;
  for (;;) {
    auto [ec] = co_await pulls_.async_wait(asio::as_tuple(asio::use_awaitable));
    pulls_.take(batch);
    hold_back(batch);
    if (ec || pulls_.drained() || pulls_.failure()) co_return;
  }
}

}  // namespace corobus::detail
