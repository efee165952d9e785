#include "core/bus_state.hpp"
#include <corobus/eventbus/topic.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/log.hpp>
#include "backends/memory/memory_backend.hpp"
#if COROBUS_HAVE_KAFKA
#include "backends/kafka/kafka_backend.hpp"
#endif
#if COROBUS_HAVE_NATS
#include "backends/nats/nats_backend.hpp"
#endif
#include "envelope/printable.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>

#include <stdexcept>

namespace corobus::detail {
namespace {

#if !COROBUS_HAVE_KAFKA || !COROBUS_HAVE_NATS
[[noreturn]] void not_built(const char* backend, const char* option) {
  throw_error(errc::invalid_config, fmt::format("invalid configuration: backend {} is not built into this corobus "
                                                "(it was configured with {}=OFF, or without its library)",
                                                backend, option));
}
#endif

// Every backend is made here, from its own settings; a build without one refuses it.
std::unique_ptr<backend> make_backend(const config& cfg, backend_context context) {
  switch (cfg.backend) {
    case backend_kind::memory: return std::make_unique<memory_backend>(context);
    case backend_kind::kafka:
#if COROBUS_HAVE_KAFKA
      return std::make_unique<kafka_backend>(context, cfg.kafka);
#else
      not_built("kafka", "COROBUS_WITH_KAFKA");
#endif
    case backend_kind::nats:
#if COROBUS_HAVE_NATS
      return std::make_unique<nats_backend>(context, cfg.nats);
#else
      not_built("nats", "COROBUS_WITH_NATS");
#endif
  }
  throw_error(errc::invalid_config,
              "invalid configuration: no backend is built for this backend kind");  // validate() refused it already
}

}  // namespace

bus_state::bus_state(config cfg)
    : cfg_((cfg.validate(), std::move(cfg))),
      pool_(cfg_.io_threads),
      backend_(make_backend(cfg_, backend_context{pool_, handoff_, stats_})),
      dead_letters_(cfg_.dead_letters, *backend_, pool_, stats_, closing_) {}

bus_state::~bus_state() { close(); }

void bus_state::ensure_open(std::string_view what) const {
  if (closing()) throw_error(errc::closed, fmt::format("{}: the bus is closed", what));
}

std::string bus_state::anonymous_group(const std::string& topic) {
  return subscriptions_.anonymous_group(cfg_.anonymous_group_prefix, topic);
}

void bus_state::add_subscriber(const std::shared_ptr<subscriber>& sub) { subscriptions_.add(sub); }

void bus_state::remove_subscriber(const std::shared_ptr<subscriber>& sub) noexcept {
  if (!subscriptions_.remove(sub)) return;  // close() takes care of it
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

void bus_state::close() {
  if (pool_.running_in_this_thread())
    throw std::logic_error("corobus: close() called from one of the bus's own io threads");
  std::call_once(close_once_, [this] { close_once(); });
}

void bus_state::close_once() {
  const auto deadline = std::chrono::steady_clock::now() + cfg_.close_grace;
  // (1) refuse new publishes and subscribes, (2) stop fetching. A subscriber is either
  // refused or among those closed below (subscription_registry::close_and_take).
  auto subs = subscriptions_.close_and_take();
  backend_->stop_intake();
  for (auto& s : subs) s->close_intake();
  dead_letters_.stop_holding();  // held messages are not written now: they stay uncommitted, for the next run

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
  dead_letters_.wait_idle();

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
