#include "backends/nats/nats_group_consumer.hpp"
#include <corobus/runtime/log.hpp>
#include "core/handoff.hpp"
#include "core/member_choice.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>

namespace corobus::detail {
namespace {

nats::pull_subscription::options pull_options(const nats_config& cfg) {
  nats::pull_subscription::options o;
  o.batch = cfg.pull_batch;
  o.expires = cfg.pull_expires;
  return o;
}

}  // namespace

nats_group_consumer::nats_group_consumer(backend_context context, const nats_config& cfg, nats::connection& conn,
                                         nats::reply_router& replies, std::string stream, std::string durable)
    : context_(context),
      cfg_(cfg),
      durable_(durable),
      window_(std::make_shared<ack_window>(conn.handle(), cfg.max_in_flight)),
      pulls_(conn, replies, std::move(stream), std::move(durable), pull_options(cfg), [this] { return room(); }),
      routes_(std::make_shared<const members>()) {
  window_->on_room([this] { pulls_.room_changed(); });
}

std::shared_ptr<const nats_group_consumer::members> nats_group_consumer::routes() const {
  std::lock_guard lock(routes_mutex_);
  return routes_;
}

void nats_group_consumer::add(std::shared_ptr<subscriber> sub) {
  {
    std::lock_guard lock(routes_mutex_);
    auto next = std::make_shared<members>(*routes_);
    next->push_back(std::move(sub));
    routes_ = std::move(next);
    has_members_.store(true);
  }
  pulls_.room_changed();
}

void nats_group_consumer::remove(const std::shared_ptr<subscriber>& sub) {
  std::lock_guard lock(routes_mutex_);
  auto next = std::make_shared<members>(*routes_);
  std::erase(*next, sub);
  has_members_.store(!next->empty());
  routes_ = std::move(next);
}

int nats_group_consumer::room() const {
  // Nobody here takes its messages: nothing is pulled (what still comes is given back).
  return has_members_.load() ? window_->room() : 0;
}

incoming_message nats_group_consumer::to_incoming(nats::msg_ptr m) {
  auto fetched = std::make_shared<nats_delivery>(window_, std::move(m));
  window_->opened(*fetched);
  std::shared_ptr<const message> msg(fetched, &fetched->msg);
  std::shared_ptr<ack_handle> source(fetched, static_cast<ack_handle*>(fetched.get()));
  incoming_message in(std::move(msg), nullptr, std::move(source));
  in.fetched = std::move(fetched);
  return in;
}

asio::awaitable<void> nats_group_consumer::deliver(incoming_message in) {
  for (;;) {
    const auto current = routes();
    if (current->empty()) {  // unsubscribed meanwhile: delivered again, to whoever takes it
      in.source->released(*in.msg);
      co_return;
    }
    const auto& member = pick_member(*current, in.msg->key, round_robin_);
    // Refused only when that subscription ended meanwhile; the routes no longer name it.
    if (co_await context_.handoff.deliver(*member, in.another_try(), on_cancel::abort)) co_return;
  }
}

asio::awaitable<void> nats_group_consumer::run() {
  pulls_.start();
  asio::steady_timer retry(co_await asio::this_coro::executor);
  std::vector<nats::msg_ptr> batch;
  std::vector<incoming_message> taken;  // kept: a window's worth is too large to allocate each time
  for (;;) {
    co_await pulls_.async_wait();
    if (pulls_.failure()) {
      // The server ended the consumer (deleted, or replaced by a push consumer): nothing
      // comes until someone acts; looked at again every ack wait.
      log().error("JetStream consumer '{}' failed; retrying in {} ms", durable_, cfg_.ack_wait.count());
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
    const auto current = routes();
    for (auto& in : taken) {
      if (!current->empty() && context_.handoff.try_deliver(*pick_member(*current, in.msg->key, round_robin_), in))
        continue;
      co_await deliver(std::move(in));
    }
  }
}

asio::awaitable<void> nats_group_consumer::keep_alive() {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  const auto every = cfg_.ack_wait / 3;
  for (;;) {
    tick.expires_after(every);
    co_await tick.async_wait(asio::use_awaitable);
    if (const auto n = window_->keep_alive(std::chrono::steady_clock::now() - every); n != 0)
      log().debug("JetStream consumer '{}': {} message(s) still in progress", durable_, n);
  }
}

void nats_group_consumer::stop() {
  pulls_.stop();
  std::vector<nats::msg_ptr> left;
  pulls_.take(left);
  for (auto& m : left) {
    nats_delivery d(window_, std::move(m));
    window_->opened(d);
    d.released(d.msg);
  }
}

}  // namespace corobus::detail
