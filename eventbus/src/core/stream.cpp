#include <corobus/eventbus/bus.hpp>
#include <corobus/runtime/log.hpp>
#include "core/bus_state.hpp"
#include "core/stream_state.hpp"

namespace corobus {

// ---- delivery

delivery::delivery(std::shared_ptr<detail::stream_state> state, detail::incoming_message in)
    : state_(std::move(state)),
      in_(std::make_unique<detail::incoming_message>(std::move(in))),
      attempt_(in_->attempt) {}

delivery::delivery(delivery&&) noexcept = default;

delivery& delivery::operator=(delivery&& other) noexcept {
  if (this != &other) {
    if (in_) state_->dropped(std::move(*in_));
    state_ = std::move(other.state_);
    in_ = std::move(other.in_);
    settled_ = std::move(other.settled_);
    attempt_ = other.attempt_;
  }
  return *this;
}

delivery::~delivery() {
  if (in_) state_->dropped(std::move(*in_));
}

const message& delivery::message() const noexcept { return in_ ? *in_->msg : *settled_; }
unsigned delivery::attempt() const noexcept { return attempt_; }

asio::awaitable<void> delivery::ack_op() {
  if (!in_) co_return;
  auto in = std::move(in_);
  settled_ = in->msg;
  state_->ack(*in);
}

asio::awaitable<void> delivery::nack_op(std::string reason) {
  if (!in_) co_return;
  auto in = std::move(in_);
  settled_ = in->msg;
  co_await state_->nack(std::move(*in), std::move(reason));
}

// ---- stream

void delivery::start(const char* name, asio::awaitable<void> body, any_handler_of<void> handler) const {
  detail::start_call(state_ ? state_->core() : nullptr, name, std::move(body), std::move(handler));
}

asio::awaitable<std::optional<delivery>> stream::next_op() {
  if (!state_) return []() -> asio::awaitable<std::optional<delivery>> { co_return std::nullopt; }();
  return state_->next();
}

void stream::start(asio::awaitable<std::optional<delivery>> body,
                   any_handler_of<std::optional<delivery>> handler) const {
  detail::start_call(state_ ? state_->core() : nullptr, "next", std::move(body), std::move(handler));
}

const std::string& stream::topic() const noexcept {
  static const std::string none;
  return state_ ? state_->topic() : none;
}

namespace detail {

stream_state::stream_state(std::weak_ptr<bus_state> core, std::string topic, std::string group, std::size_t capacity,
                           retry_policy retry)
    : subscriber(std::move(topic), std::move(group), false),
      core_(std::move(core)),
      retry_(retry),
      queue_(async_queue<incoming_message>::create(capacity)) {}

corobus::stream stream_state::make_stream() {
  std::shared_ptr<void> subscription(nullptr, [weak = weak_from_this()](void*) {
    auto self = weak.lock();
    if (!self) return;
    if (auto core = self->core_.lock()) core->remove_subscriber(self);
  });
  return corobus::stream(shared_from_this(), std::move(subscription));
}

asio::awaitable<std::optional<delivery>> stream_state::next() {
  std::optional<incoming_message> in;
  {
    std::lock_guard lock(mutex_);
    if (!redeliveries_.empty()) {
      in = std::move(redeliveries_.front());
      redeliveries_.pop_front();
    }
  }
  for (;;) {
    if (!in) in = queue_->try_pop();
    if (!in) in = co_await queue_->async_pop();
    if (!in) co_return std::nullopt;
    if (!in->stale()) break;
    if (auto core = core_.lock()) core->drop_stale(*in);  // its partition moved to another consumer
    in.reset();
  }
  if (in->attempt > 1)
    if (auto core = core_.lock()) core->stats().retried.add();
  co_return delivery(shared_from_this(), std::move(*in));
}

push_status stream_state::try_deliver(incoming_message& in) {
  auto entry = unsettled_.try_enter();
  if (!entry) return push_status::closed;
  in.in_stream = std::move(*entry);
  const auto status = queue_->try_push(in);
  if (status != push_status::pushed) in.in_stream.release();
  return status;
}

asio::awaitable<void> stream_state::deliver(incoming_message in, on_cancel cancel) {
  in.in_stream = unsettled_.enter("stream");
  co_await push_waiting(*queue_, std::move(in), cancel);
}

void stream_state::wait_settled_until(std::chrono::steady_clock::time_point deadline) {
  unsettled_.close_and_wait_for(deadline - std::chrono::steady_clock::now());
}

void stream_state::ack(incoming_message& in) {
  in.in_stream.release();
  if (auto core = core_.lock()) core->settle(in);
}

bool stream_state::redeliver(incoming_message& in) {
  if (in.attempt >= retry_.attempts) return false;
  ++in.attempt;
  if (queue_->try_push(in) == push_status::pushed) return true;
  // Full or closed. Decided under the lock take_abandoned() takes, so a message put aside
  // here is either counted by it or abandoned now.
  std::lock_guard lock(mutex_);
  if (queue_->closed()) {
    if (auto core = core_.lock()) core->abandon(1);
  } else {
    redeliveries_.push_back(std::move(in));
  }
  return true;
}

asio::awaitable<void> stream_state::nack(incoming_message in, std::string reason) {
  if (redeliver(in)) co_return;
  in.in_stream.release();  // the dead letter is the bus's work now, not the reader's
  auto core = core_.lock();
  if (!core) co_return;
  if (core->closing()) {  // too late for a dead letter: not handled, and counted so
    core->abandon(1);
    co_return;
  }
  const auto attempts = in.attempt;
  co_await core->dead_letters().write(std::move(in), std::move(reason), attempts);
}

void stream_state::dropped(incoming_message in) {
  if (redeliver(in)) return;
  in.in_stream.release();  // the dead letter is the bus's work now, not the reader's
  auto core = core_.lock();
  if (!core) return;
  if (core->closing()) {  // the pool may be gone already: no task can be started
    core->abandon(1);
    return;
  }
  const auto attempts = in.attempt;
  try {
    core->scope().spawn(core->pool().make_strand(),
                        core->dead_letters().write(std::move(in), "delivery dropped without ack", attempts),
                        "dead letter of a dropped delivery");
  } catch (const std::exception& e) {  // the bus is closing: not handled, and counted so
    log().warn("a dropped delivery of '{}' could not be dead-lettered: {}", topic(), e.what());
    core->abandon(1);
  }
}

std::size_t stream_state::take_abandoned() {
  std::lock_guard lock(mutex_);
  return queue_->close_and_take().size() + std::exchange(redeliveries_, {}).size();
}

}  // namespace detail
}  // namespace corobus
