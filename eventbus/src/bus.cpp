#include <corobus/eventbus/bus.hpp>
#include <corobus/eventbus/detail/bus_core.hpp>
#include <corobus/eventbus/detail/handler_subscriber.hpp>
#include <corobus/eventbus/detail/stream_state.hpp>
#include <corobus/eventbus/topic.hpp>

#include <fmt/format.h>

namespace corobus {

bus::bus(corobus::config cfg) : core_(std::make_shared<detail::bus_core>(std::move(cfg))) {}

bus::~bus() { close(); }

bus::executor_type bus::get_executor() noexcept { return core_->pool().get_executor(); }

asio::awaitable<publish_result> bus::publish(std::string_view topic, std::string payload, publish_options options) {
  core_->ensure_open("publish");
  validate_topic(topic);
  message msg;
  msg.topic = std::string(topic);
  msg.key = std::move(options.key);
  msg.payload = std::move(payload);
  msg.headers = std::move(options.headers);
  auto& stats = core_->stats();
  try {
    auto result = co_await core_->backend().publish(std::move(msg));
    stats.published.add();
    co_return result;
  } catch (...) {
    stats.publish_errors.add();
    throw;
  }
}

asio::awaitable<publish_result> bus::publish(std::string_view topic, std::string payload) {
  return publish(topic, std::move(payload), publish_options{});
}

asio::awaitable<publish_result> bus::publish_envelope(std::string_view topic, envelope e) {
  core_->ensure_open("publish_envelope");
  validate_topic(topic);
  e.validate();
  auto& stats = core_->stats();
  try {
    auto result = co_await core_->backend().publish_envelope(std::string(topic), std::move(e));
    stats.published.add();
    co_return result;
  } catch (...) {
    stats.publish_errors.add();
    throw;
  }
}

std::string bus::group_name(std::string_view topic, const subscribe_options& options) {
  if (!options.group.empty()) {
    if (auto p = topic_problem(options.group))
      throw_error(errc::invalid_argument, fmt::format("invalid group name '{}': {}", options.group, *p));
    return options.group;
  }
  static std::atomic<std::uint64_t> anonymous{0};
  return fmt::format("{}.subscriber-{}", topic, anonymous.fetch_add(1, std::memory_order_relaxed));
}

std::shared_ptr<detail::subscriber> bus::make_handler_subscriber(
    std::string_view topic, const subscribe_options& options, std::variant<message_handler, envelope_handler> handler) {
  const bool keyed = std::holds_alternative<envelope_handler>(handler);
  core_->ensure_open(keyed ? "subscribe_envelopes" : "subscribe");
  validate_topic(topic);
  std::visit([](const auto& h) {
    if (!h) throw_error(errc::invalid_argument, "the handler is empty");
  }, handler);
  const auto& cfg = core_->cfg();
  corobus::config checked = cfg;  // per-subscription values obey the same rules as the config's
  checked.lanes = options.lanes.value_or(cfg.lanes);
  checked.lane_capacity = options.lane_capacity.value_or(cfg.lane_capacity);
  checked.concurrency = options.concurrency.value_or(cfg.concurrency);
  checked.retry = options.retry.value_or(cfg.retry);
  checked.validate();
  const auto shape = keyed ? lane_shape::keyed(checked.lanes, checked.lane_capacity)
                           : lane_shape::unordered(checked.concurrency, checked.lane_capacity);
  return std::make_shared<detail::handler_subscriber>(*core_, std::string(topic), group_name(topic, options), shape,
                                                      checked.retry, std::move(handler));
}

asio::awaitable<subscription> bus::attach(std::shared_ptr<detail::subscriber> sub) {
  core_->add_subscriber(sub);
  co_await core_->backend().attach(sub);
  co_return subscription(sub->topic(), sub->group());
}

asio::awaitable<subscription> bus::subscribe(std::string_view topic, message_handler handler,
                                             const subscribe_options& options) {
  return attach(make_handler_subscriber(topic, options, std::move(handler)));
}

asio::awaitable<subscription> bus::subscribe(std::string_view topic, message_handler handler) {
  return subscribe(topic, std::move(handler), subscribe_options{});
}

asio::awaitable<subscription> bus::subscribe_envelopes(std::string_view topic, envelope_handler handler,
                                                       const subscribe_options& options) {
  return attach(make_handler_subscriber(topic, options, std::move(handler)));
}

asio::awaitable<subscription> bus::subscribe_envelopes(std::string_view topic, envelope_handler handler) {
  return subscribe_envelopes(topic, std::move(handler), subscribe_options{});
}

asio::awaitable<corobus::stream> bus::stream(std::string_view topic) { return stream(topic, subscribe_options{}); }

asio::awaitable<corobus::stream> bus::stream(std::string_view topic, const subscribe_options& options) {
  core_->ensure_open("stream");
  validate_topic(topic);
  corobus::config checked = core_->cfg();
  checked.retry = options.retry.value_or(checked.retry);
  checked.validate();
  auto state = std::make_shared<detail::stream_state>(core_, std::string(topic), group_name(topic, options),
                                                      checked.stream_capacity, checked.retry);
  return [](bus& self, std::shared_ptr<detail::stream_state> state) -> asio::awaitable<corobus::stream> {
    co_await self.attach(state);
    co_return state->make_stream();
  }(*this, std::move(state));
}

void bus::close() { core_->close(); }
bool bus::closed() const noexcept { return core_->closing(); }

metrics_snapshot bus::metrics() const noexcept {
  auto s = core_->stats().snapshot();
  s.live_tasks = core_->scope().live();
  s.peak_tasks = core_->scope().peak();
  return s;
}

const corobus::config& bus::get_config() const noexcept { return core_->cfg(); }

}  // namespace corobus
