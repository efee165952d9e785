#include "core/bus_state.hpp"
#include <corobus/eventbus/topic.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/log.hpp>
#include "backends/kafka/kafka_backend.hpp"
#include "backends/memory/memory_backend.hpp"
#include "core/dead_letter.hpp"
#include "envelope/printable.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>

#include <stdexcept>

namespace corobus::detail {
namespace {

// Every backend is made here, from its own settings.
std::unique_ptr<backend> make_backend(const config& cfg, backend_context context) {
  switch (cfg.backend) {
    case backend_kind::memory: return std::make_unique<memory_backend>(context);
    case backend_kind::kafka: return std::make_unique<kafka_backend>(context, cfg.kafka);
    case backend_kind::nats: break;
  }
  throw_error(errc::invalid_config,
              "invalid configuration: no backend is built for this backend kind");  // validate() refused it already
}

}  // namespace

bus_state::bus_state(config cfg) : cfg_((cfg.validate(), std::move(cfg))), pool_(cfg_.io_threads) {
  backend_ = make_backend(cfg_, backend_context{pool_, handoff_, stats_});
}

bus_state::~bus_state() { close(); }

void bus_state::ensure_open(std::string_view what) const {
  if (closing()) throw_error(errc::closed, fmt::format("{}: the bus is closed", what));
}

std::string bus_state::anonymous_group(const std::string& topic) {
  std::lock_guard lock(subscribers_mutex_);
  return fmt::format("{}.{}.{}", cfg_.anonymous_group_prefix, topic, anonymous_groups_[topic]++);
}

void bus_state::add_subscriber(const std::shared_ptr<subscriber>& sub) {
  std::lock_guard lock(subscribers_mutex_);
  ensure_open("subscribe");
  sub->start();
  subscribers_.push_back(sub);
}

void bus_state::remove_subscriber(const std::shared_ptr<subscriber>& sub) noexcept {
  {
    std::lock_guard lock(subscribers_mutex_);
    if (closing()) return;  // close() takes care of it
    std::erase(subscribers_, sub);
  }
  try {
    backend_->detach(sub);
  } catch (const std::exception& e) {  // the bus began closing meanwhile: close() ends it
    log().debug("detaching a subscription of '{}': {}", sub->topic(), e.what());
  }
  sub->close_intake();
  if (sub->finishes_queued_work()) return;
  if (const auto left = sub->take_abandoned(); left != 0) {
    abandon(left);
    log().warn("{} message(s) of '{}' were not handled: the subscription ended", left, sub->topic());
  }
}

void bus_state::settle(const incoming_message& in) noexcept {
  stats_.delivered.add();
  if (in.source) in.source->done(*in.msg);
}

void bus_state::drop_stale(const incoming_message& in) noexcept {
  stats_.rebalanced.add();
  in.source->released(*in.msg);
}

void bus_state::abandon(std::size_t n) noexcept { stats_.abandoned.add(n); }

bool bus_state::decode_envelope(incoming_message& in, std::string& error) {
  if (in.env) return true;
  try {
    in.env = std::make_shared<const envelope>(envelope::decode(in.payload()));
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

asio::awaitable<void> bus_state::dead_letter_undecodable(incoming_message in, std::string error) {
  stats_.undecodable.add();
  co_await dead_letter(std::move(in), "undecodable envelope: " + error, 0);
}

struct bus_state::pending_dead_letter {
  pending_dead_letter(incoming_message i, std::string e, unsigned a, const dead_letter_policy& policy,
                      std::optional<std::size_t> max_record_bytes)
      : in(std::move(i)),
        error(std::move(e)),
        attempts(a),
        letter(make_dead_letter(in, error, attempts)),
        plan(policy, value_budget(letter, max_record_bytes)),
        where(fmt::format("'{}' partition {} offset {} key '{}'", in.msg->topic, in.msg->partition, in.msg->offset,
                          printable(in.msg->key))) {}

  incoming_message in;
  std::string error;
  unsigned attempts;
  message letter;
  dead_letter_plan plan;
  std::string where;
  std::chrono::milliseconds next_wait{0};
};

asio::awaitable<void> bus_state::dead_letter(incoming_message in, std::string error, unsigned attempts) {
  auto p = std::make_unique<pending_dead_letter>(std::move(in), std::move(error), attempts, cfg_.dead_letters,
                                                 backend_->max_record_bytes());
  if (co_await attempt_dead_letter(*p, std::chrono::milliseconds(0)) == write_outcome::ended) co_return;
  // Held: tried on by a task of its own, so that the caller (a lane, a stream's reader) goes
  // on; the partition is paused meanwhile, which bounds what piles up behind it.
  try {
    held_.spawn(pool_.make_strand(), write_held_dead_letter(std::move(p)), "held dead letter");
  } catch (const boost::system::system_error&) {  // close() began: a broker delivers it again
    stats_.held.subtract();
    abandon(1);
  }
}

asio::awaitable<void> bus_state::write_held_dead_letter(std::unique_ptr<pending_dead_letter> p) {
  co_await attempt_dead_letter(*p, p->next_wait);
}

bool bus_state::dead_letter_overtaken(pending_dead_letter& p, std::string_view failure) {
  const bool held = p.plan.held();
  if (closing()) {  // not written: not committed either, so a broker delivers it again
    if (held) stats_.held.subtract();
    abandon(1);
    log().warn("message {} failed with '{}' while the bus closed; not dead-lettered ({})", p.where, p.error,
               failure.empty() ? "close began" : failure);
    return true;
  }
  if (p.in.stale()) {  // its partition moved: the next owner handles it from the start
    if (held) stats_.held.subtract();
    drop_stale(p.in);
    log().info("message {} was not dead-lettered here: its partition moved to another consumer", p.where);
    return true;
  }
  return false;
}

asio::awaitable<bus_state::write_outcome> bus_state::attempt_dead_letter(pending_dead_letter& p,
                                                                         std::chrono::milliseconds wait) {
  const auto& m = *p.in.msg;
  const auto dlq = dead_letter_topic(m.topic);
  for (;;) {
    if (wait.count() > 0) {
      // Cancelled when close() begins (held_) or its grace ends (a lane): then overtaken below.
      asio::steady_timer backoff(co_await asio::this_coro::executor, wait);
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      if (dead_letter_overtaken(p, {})) co_return write_outcome::ended;
    }
    boost::system::error_code code;
    std::string failure;
    try {
      co_await backend_->write_dead_letter(fit_dead_letter(p.letter, p.plan.value_budget()));
    } catch (const boost::system::system_error& e) {
      code = e.code();
      failure = e.what();
    } catch (const std::exception& e) {
      code = make_error_code(errc::broker_error);
      failure = e.what();
    }
    if (failure.empty()) {
      if (p.plan.held()) stats_.held.subtract();
      stats_.dead_lettered.add();
      if (p.in.source) p.in.source->done(m);
      const bool cut = p.plan.value_budget() < p.letter.payload.size();
      log().warn("message {} dead-lettered to '{}' after {} attempt(s){}: {}", p.where, dlq, p.attempts,
                 cut ? fmt::format(" (value cut to {} of {} bytes)", p.plan.value_budget(), p.letter.payload.size())
                     : std::string(),
                 p.error);
      co_return write_outcome::ended;
    }
    if (dead_letter_overtaken(p, failure)) co_return write_outcome::ended;

    const auto step = p.plan.failed(backend_->classify(code), std::chrono::steady_clock::now());
    if (step.give_up) {
      stats_.held.subtract();
      stats_.lost.add();
      if (p.in.source) p.in.source->done(m);
      log().error(
          "message {} is given up after {} failed dead-letter writes (held longer than "
          "dead_letters.give_up_after); it is committed past and counted lost. Last write error: {}; it "
          "failed with: {}",
          p.where, p.plan.failures(), failure, p.error);
      co_return write_outcome::ended;
    }
    if (step.now_held) {
      stats_.held.add();
      if (p.in.source) p.in.source->held(m);
      log().error(
          "message {} is held: its dead letter to '{}' was refused ({}); it is not committed past and is "
          "tried again every {} ms; it failed with: {}",
          p.where, dlq, failure, cfg_.dead_letters.max_backoff.count(), p.error);
      p.next_wait = step.wait;
      co_return write_outcome::held;
    }
    if (step.log) {
      if (p.plan.held())
        log().error("message {} is still held after {} failed dead-letter write(s): {}", p.where, p.plan.failures(),
                    failure);
      else
        log().warn("dead letter of message {} failed ({}); trying again in {} ms", p.where, failure, step.wait.count());
    }
    wait = step.wait;
  }
}

void bus_state::close() {
  if (pool_.running_in_this_thread())
    throw std::logic_error("corobus: close() called from one of the bus's own io threads");
  std::call_once(close_once_, [this] { close_once(); });
}

void bus_state::close_once() {
  const auto deadline = std::chrono::steady_clock::now() + cfg_.close_grace;
  // (1) refuse new publishes and subscribes, (2) stop fetching. Marked under the lock that
  // add_subscriber holds: a subscriber is either refused or in the list closed below.
  std::vector<std::shared_ptr<subscriber>> subs;
  {
    std::lock_guard lock(subscribers_mutex_);
    closing_.store(true, std::memory_order_release);
    subs.swap(subscribers_);
  }
  backend_->stop_intake();
  for (auto& s : subs) s->close_intake();
  held_.cancel();  // held messages are not written now: they stay uncommitted, for the next run

  // (3) in-flight and queued work finishes within the grace period, (4) then is cancelled,
  // (5) and the scope is joined: no task outlives close().
  if (!scope_.wait_idle_for(deadline - std::chrono::steady_clock::now()))
    log().warn("close: {} task(s) still running after the {} ms grace period; cancelling them", scope_.live(),
               cfg_.close_grace.count());
  // Stream readers are the application's coroutines, outside the scope: they get the same
  // deadline to take and ack what their streams hold (each stream's gate empties).
  for (auto& s : subs) s->wait_settled_until(deadline);
  scope_.cancel();
  scope_.wait_idle();
  held_.wait_idle();

  std::size_t abandoned = 0;
  for (auto& s : subs) abandoned += s->take_abandoned();
  if (abandoned != 0) {
    abandon(abandoned);
    log().warn("close: {} accepted message(s) were not handled before the bus closed", abandoned);
  }

  // (6) close the clients, (7) stop and join the io threads; the application's coroutines on
  // them have what is left of the grace period to finish.
  backend_->shutdown();
  subs.clear();
  pool_.shutdown(deadline);
}

}  // namespace corobus::detail
