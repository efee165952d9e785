#include <corobus/eventbus/bus.hpp>
#include <corobus/eventbus/topic.hpp>
#include <corobus/runtime/log.hpp>
#include "core/bus_state.hpp"
#include "core/handler_subscriber.hpp"
#include "core/stream_state.hpp"
#include "envelope/printable.hpp"

#include <fmt/format.h>

namespace corobus {

bus::bus(corobus::config cfg) : core_(std::make_shared<detail::bus_state>(std::move(cfg))) {}

bus::~bus() {
  try {
    close();
  } catch (const std::exception& e) {  // destroyed on one of its own io threads: it cannot join them
    log().critical("corobus::bus destroyed where it cannot close: {}", e.what());
    std::terminate();
  }
}

bus::executor_type bus::get_executor() { return core_->pool().get_executor(); }

subscription::subscription(std::weak_ptr<detail::bus_state> core, std::shared_ptr<detail::subscriber> sub)
    : core_(std::move(core)), sub_(std::move(sub)) {}

namespace {
const std::string no_name;
}  // namespace

const std::string& subscription::topic() const noexcept { return sub_ ? sub_->topic() : no_name; }
const std::string& subscription::group() const noexcept { return sub_ ? sub_->group() : no_name; }

void subscription::unsubscribe() {
  if (!sub_) return;
  if (auto core = core_.lock()) core->remove_subscriber(sub_);
}

namespace {

std::size_t messages_in(const publish_result&) { return 1; }
std::size_t messages_in(const std::vector<publish_result>& results) { return results.size(); }

// Every publish: refused once closed, then the op's checks (its topic, and its envelopes
// before anything is sent), then sent and counted as published per message, or as one
// publish error. The frame owns the bus state: a bus destroyed while a publish waits (for
// room in a lane, for a broker) must not pull the state from under it.
template <class Op>
auto counted_publish(std::shared_ptr<detail::bus_state> core, const char* what, Op op)
    -> decltype(op.send(core->backend())) {
  core->ensure_open(what);
  op.check();
  auto& stats = core->stats();
  try {
    auto result = co_await op.send(core->backend());
    stats.published.add(messages_in(result));
    co_return result;
  } catch (...) {
    stats.publish_errors.add();
    throw;
  }
}

// The three publishes. (Classes with constructors, not aggregates: see publish_options.)
class raw_publish {
 public:
  explicit raw_publish(message&& msg) : msg_(std::move(msg)) {}
  void check() const { validate_topic(msg_.topic); }
  asio::awaitable<publish_result> send(detail::backend& b) { return b.publish(std::move(msg_)); }

 private:
  message msg_;
};

class envelope_publish {
 public:
  envelope_publish(std::string&& topic, envelope&& e) : topic_(std::move(topic)), e_(std::move(e)) {}
  void check() const {
    validate_topic(topic_);
    e_.validate();
  }
  asio::awaitable<publish_result> send(detail::backend& b) {
    return b.publish_envelope(std::move(topic_), std::move(e_));
  }

 private:
  std::string topic_;
  envelope e_;
};

class batch_publish {
 public:
  batch_publish(std::string&& topic, std::vector<envelope>&& batch)
      : topic_(std::move(topic)), batch_(std::move(batch)) {}
  void check() const {
    validate_topic(topic_);
    for (const auto& e : batch_) e.validate();
  }
  asio::awaitable<std::vector<publish_result>> send(detail::backend& b) {
    return b.publish_envelopes(std::move(topic_), std::move(batch_));
  }

 private:
  std::string topic_;
  std::vector<envelope> batch_;
};

}  // namespace

asio::awaitable<publish_result> bus::publish_op(std::string&& topic, std::string&& payload, publish_options&& options) {
  message msg;
  msg.topic = std::move(topic);
  msg.key = std::move(options.key);
  msg.payload = std::move(payload);
  msg.headers = std::move(options.headers);
  return counted_publish(core_, "publish", raw_publish(std::move(msg)));
}

asio::awaitable<publish_result> bus::publish_envelope_op(std::string&& topic, envelope&& e) {
  return counted_publish(core_, "publish_envelope", envelope_publish(std::move(topic), std::move(e)));
}

asio::awaitable<std::vector<publish_result>> bus::publish_envelopes_op(std::string&& topic,
                                                                       std::vector<envelope>&& batch) {
  return counted_publish(core_, "publish_envelopes", batch_publish(std::move(topic), std::move(batch)));
}

namespace {

std::string group_name(detail::bus_state& core, const std::string& topic, const subscribe_options& options) {
  if (options.group.empty()) return core.anonymous_group(topic);
  if (auto p = topic_problem(options.group))
    throw_error(errc::invalid_argument,
                fmt::format("invalid group name '{}': {}", detail::printable(options.group), *p));
  return options.group;
}

// The subscription's settings, checked by the same rules as the config's.
corobus::config settings_for(const corobus::config& cfg, const subscribe_options& options) {
  corobus::config checked = cfg;
  checked.lanes = options.lanes.value_or(cfg.lanes);
  checked.lane_capacity = options.lane_capacity.value_or(cfg.lane_capacity);
  checked.concurrency = options.concurrency.value_or(cfg.concurrency);
  checked.retry = options.retry.value_or(cfg.retry);
  checked.validate();
  return checked;
}

// Registered first, so that close() ends it even while the backend attaches it; removed
// again when attaching fails or is cancelled.
asio::awaitable<void> attach(detail::bus_state& core, const std::shared_ptr<detail::subscriber>& sub) {
  core.add_subscriber(sub);
  try {
    co_await core.backend().attach(sub);
  } catch (...) {
    core.remove_subscriber(sub);
    throw;
  }
}

asio::awaitable<subscription> subscribe_with(std::shared_ptr<detail::bus_state> core, std::string topic,
                                             std::variant<message_handler, envelope_handler> handler,
                                             subscribe_options options) {
  const bool keyed = std::holds_alternative<envelope_handler>(handler);
  core->ensure_open(keyed ? "subscribe_envelopes" : "subscribe");
  validate_topic(topic);
  std::visit(
      [](const auto& h) {
        if (!h) throw_error(errc::invalid_argument, "the handler is empty");
      },
      handler);
  const auto settings = settings_for(core->cfg(), options);
  const auto shape = keyed ? lane_shape::keyed(settings.lanes, settings.lane_capacity)
                           : lane_shape::unordered(settings.concurrency, settings.lane_capacity);
  auto group = group_name(*core, topic, options);
  auto sub =
      std::make_shared<detail::handler_subscriber>(*core, topic, group, shape, settings.retry, std::move(handler));
  co_await attach(*core, sub);
  co_return subscription(core, std::move(sub));
}

asio::awaitable<corobus::stream> stream_with(std::shared_ptr<detail::bus_state> core, std::string topic,
                                             subscribe_options options) {
  core->ensure_open("stream");
  validate_topic(topic);
  const auto settings = settings_for(core->cfg(), options);
  auto state = std::make_shared<detail::stream_state>(core, topic, group_name(*core, topic, options),
                                                      settings.stream_capacity, settings.retry);
  co_await attach(*core, state);
  co_return state->make_stream();
}

}  // namespace

asio::awaitable<subscription> bus::subscribe_op(std::string topic,
                                                std::variant<message_handler, envelope_handler> handler,
                                                subscribe_options options) {
  return subscribe_with(core_, std::move(topic), std::move(handler), std::move(options));
}

asio::awaitable<corobus::stream> bus::stream_op(std::string topic, subscribe_options options) {
  return stream_with(core_, std::move(topic), std::move(options));
}

namespace detail {

template <class T>
void start_call(const std::shared_ptr<bus_state>& core, const char* name, asio::awaitable<T> body,
                any_handler_of<T> handler) {
  std::optional<asio::strand<io_pool::executor_type>> strand;
  if (core && !core->closing()) {
    try {
      strand = core->pool().make_strand();
    } catch (const boost::system::system_error&) {  // the pool shut down meanwhile
    }
  }
  const auto slot = asio::get_associated_cancellation_slot(handler);
  const bool started =
      strand && core->scope().spawn_call(
                    *strand, [&] { return run_then_complete(std::move(body), std::move(handler), true); }, name, slot);
  if (!started) complete_refused<T>(std::move(handler), make_error_code(errc::closed));
}

template void start_call(const std::shared_ptr<bus_state>&, const char*, asio::awaitable<publish_result>,
                         any_handler_of<publish_result>);
template void start_call(const std::shared_ptr<bus_state>&, const char*, asio::awaitable<std::vector<publish_result>>,
                         any_handler_of<std::vector<publish_result>>);
template void start_call(const std::shared_ptr<bus_state>&, const char*, asio::awaitable<subscription>,
                         any_handler_of<subscription>);
template void start_call(const std::shared_ptr<bus_state>&, const char*, asio::awaitable<corobus::stream>,
                         any_handler_of<corobus::stream>);
template void start_call(const std::shared_ptr<bus_state>&, const char*, asio::awaitable<std::optional<delivery>>,
                         any_handler_of<std::optional<delivery>>);
template void start_call(const std::shared_ptr<bus_state>&, const char*, asio::awaitable<void>, any_handler_of<void>);

}  // namespace detail

void bus::close() { core_->close(); }
bool bus::closed() const noexcept { return core_->closing(); }

metrics_snapshot bus::metrics() const noexcept {
  auto s = core_->stats().snapshot();
  s.live_tasks = core_->live_tasks();
  s.peak_tasks = core_->scope().peak();
  return s;
}

connection_status bus::connection() const { return core_->backend().connection_status(); }

const corobus::config& bus::get_config() const noexcept { return core_->cfg(); }

}  // namespace corobus
