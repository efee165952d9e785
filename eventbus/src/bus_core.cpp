#include <corobus/eventbus/detail/bus_core.hpp>
#include <corobus/eventbus/detail/kafka_backend.hpp>
#include <corobus/eventbus/detail/memory_backend.hpp>
#include <corobus/eventbus/detail/printable.hpp>
#include <corobus/eventbus/topic.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/log.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace corobus::detail {
namespace {

std::unique_ptr<backend> make_backend(bus_core& core) {
  switch (core.cfg().backend) {
    case backend_kind::memory: return std::make_unique<memory_backend>(core);
    case backend_kind::kafka: return std::make_unique<kafka_backend>(core);
    case backend_kind::nats: break;
  }
  throw_error(errc::invalid_config, "invalid configuration: the nats backend is not built yet");
}

}  // namespace

bus_core::bus_core(config cfg) : cfg_((cfg.validate(), std::move(cfg))), pool_(cfg_.io_threads) {
  backend_ = make_backend(*this);
}

bus_core::~bus_core() { close(); }

void bus_core::ensure_open(std::string_view what) const {
  if (closing()) throw_error(errc::closed, fmt::format("{}: the bus is closed", what));
}

std::string bus_core::anonymous_group(const std::string& topic) {
  std::lock_guard lock(subscribers_mutex_);
  return fmt::format("{}.{}.{}", cfg_.anonymous_group_prefix, topic, anonymous_groups_[topic]++);
}

void bus_core::add_subscriber(const std::shared_ptr<subscriber>& sub) {
  std::lock_guard lock(subscribers_mutex_);
  ensure_open("subscribe");
  sub->start();
  subscribers_.push_back(sub);
}

void bus_core::remove_subscriber(const std::shared_ptr<subscriber>& sub) noexcept {
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
  if (sub->drains_itself()) return;
  if (const auto left = sub->take_abandoned(); left != 0) {
    abandon(left);
    log().warn("{} message(s) of '{}' were not handled: the subscription ended", left, sub->topic());
  }
}

void bus_core::settle(const inbound& in) noexcept {
  stats_.delivered.add();
  if (in.source) in.source->done(*in.msg);
}

void bus_core::drop_stale(const inbound& in) noexcept {
  stats_.rebalanced.add();
  in.source->released(*in.msg);
}

void bus_core::abandon(std::size_t n) noexcept { stats_.abandoned.add(n); }

asio::awaitable<bool> bus_core::dispatch(subscriber& sub, inbound in) {
  if (try_dispatch(sub, in)) co_return true;
  // Full, or ended meanwhile: wait for room (accept() throws errc::closed once it ended).
  stats_.accepted.add();  // before the hand-over, so that the message's end is never counted before its start
  bool refused = false;
  try {
    co_await sub.accept(std::move(in));
  } catch (const boost::system::system_error& e) {
    if (e.code() != errc::closed) throw;
    refused = true;
  }
  if (refused) {  // the subscription ended (or the bus closes) meanwhile
    stats_.accepted.subtract();
    ensure_open("publish");
  }
  co_return !refused;
}

bool bus_core::try_dispatch(subscriber& sub, inbound& in) {
  if (sub.needs_whole_message()) in.make_whole();
  stats_.accepted.add();  // as in dispatch()
  if (sub.try_accept(in) == push_status::pushed) return true;
  stats_.accepted.subtract();
  return false;
}

bool bus_core::decode_envelope(inbound& in, std::string& error) {
  if (in.env) return true;
  try {
    in.env = std::make_shared<const envelope>(envelope::decode(in.payload()));
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

asio::awaitable<void> bus_core::dead_letter_undecodable(inbound in, std::string error) {
  stats_.undecodable.add();
  co_await dead_letter(std::move(in), "undecodable envelope: " + error, 0);
}

asio::awaitable<void> bus_core::dead_letter(inbound in, std::string error, unsigned attempts) {
  const auto& m = *in.msg;
  message dl;
  dl.topic = dead_letter_topic(m.topic);
  dl.key = m.key;
  dl.payload = !in.payload().empty() || !in.env ? std::string(in.payload()) : in.env->encode();
  dl.headers = in.headers();
  if (in.env && !find_header(dl.headers, envelope_headers::event_id)) {
    auto metadata = metadata_headers(*in.env);  // the in-process backend skips them when nobody reads bytes
    dl.headers.insert(dl.headers.end(), metadata.begin(), metadata.end());
  }
  dl.headers.push_back({std::string(dead_letter_headers::error), error});
  dl.headers.push_back({std::string(dead_letter_headers::origin_topic), m.topic});
  dl.headers.push_back({std::string(dead_letter_headers::origin_partition), std::to_string(m.partition)});
  dl.headers.push_back({std::string(dead_letter_headers::origin_offset), std::to_string(m.offset)});
  dl.headers.push_back({std::string(dead_letter_headers::attempts), std::to_string(attempts)});
  const auto where = fmt::format("'{}' partition {} offset {} key '{}'", m.topic, m.partition, m.offset,
                                 detail::printable(m.key));

  std::string failure;
  try {
    co_await backend_->publish(std::move(dl));
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (failure.empty()) {
    stats_.dead_lettered.add();
    if (in.source) in.source->done(m);
    log().warn("message {} dead-lettered to '{}' after {} attempt(s): {}", where, dead_letter_topic(m.topic),
               attempts, error);
  } else if (closing()) {  // the dead-letter topic's subscribers closed first: not handled
    abandon(1);
    log().warn("message {} failed with '{}' while the bus closed; not dead-lettered ({})", where, error, failure);
  } else {
    stats_.lost.add();
    log().error("message {} could not be dead-lettered ({}); it failed with: {}", where, failure, error);
  }
}

void bus_core::close() {
  if (pool_.running_in_this_thread())
    throw std::logic_error("corobus: close() called from one of the bus's own io threads");
  std::call_once(close_once_, [this] { close_once(); });
}

void bus_core::close_once() {
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

  // (3) in-flight and queued work finishes within the grace period, (4) then is cancelled,
  // (5) and the scope is joined: no task outlives close().
  if (!scope_.wait_idle_for(deadline - std::chrono::steady_clock::now()))
    log().warn("close: {} task(s) still running after the {} ms grace period; cancelling them",
               scope_.live(), cfg_.close_grace.count());
  // Stream readers are the application's coroutines, outside the scope: they get the same
  // deadline to take and ack what their streams hold. Nothing signals their progress, so
  // this looks every millisecond, and only while a stream is not settled.
  const auto streams_settled = [&subs] {
    return std::all_of(subs.begin(), subs.end(), [](const auto& s) { return s->settled(); });
  };
  while (!streams_settled() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  scope_.cancel();
  scope_.wait_idle();

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
