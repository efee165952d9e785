#include "backends/nats/nats_delivery.hpp"
#include <corobus/eventbus/message.hpp>
#include <corobus/runtime/log.hpp>

#include <boost/intrusive/parent_from_member.hpp>

#include <algorithm>
#include <string_view>

namespace corobus::detail {
namespace {

// cnats takes header names as C strings: the envelope's one, spelled out once and checked.
constexpr const char* aggregate_id_header = "X-Aggregate-ID";
static_assert(envelope_headers::aggregate_id == std::string_view(aggregate_id_header));

std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }

}  // namespace

nats_delivery::nats_delivery(std::shared_ptr<ack_window> w, nats::jetstream_message m, const std::string& topic,
                             int partition)
    : window(std::move(w)), raw(std::move(m)) {
  msg.topic = topic;
  if (partition >= 0) msg.partition = partition;
  msg.key = raw.header(key_header);
  if (msg.key.empty()) msg.key = raw.header(aggregate_id_header);
  const auto metadata = raw.metadata();
  msg.offset = metadata ? static_cast<std::int64_t>(metadata->stream_sequence) : -1;
  entry.sequence = msg.offset;
  entry.reply = raw.reply();
}

nats_delivery::~nats_delivery() { window->dropped(*this); }

std::string_view nats_delivery::payload() const noexcept { return raw.payload(); }

corobus::headers nats_delivery::headers() const {
  auto out = raw.headers();
  std::erase_if(out, [](const header& h) { return h.name == key_header || h.name == "Nats-Msg-Id"; });
  return out;
}

void nats_delivery::done(const message&) noexcept { window->done(*this); }
void nats_delivery::released(const message&) noexcept { window->release(*this); }
void nats_delivery::held(const message&) noexcept { window->hold(*this); }
bool nats_delivery::revoked() const noexcept { return window->revoked(); }

std::size_t ack_window::in_flight() const {
  std::lock_guard lock(mutex_);
  return ledger_.in_flight();
}

std::size_t ack_window::held() const {
  std::lock_guard lock(mutex_);
  return ledger_.held();
}

int ack_window::room() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(ledger_.room());
}

void ack_window::opened(nats_delivery& d) {
  std::lock_guard lock(mutex_);
  ledger_.opened(d.entry, now());
}

void ack_window::hold(nats_delivery& d) noexcept {
  std::lock_guard lock(mutex_);
  if (d.entry.st != ack_ledger::entry::state::open) return;
  if (ledger_.hold(d.entry))
    log().error(
        "JetStream consumer '{}': {} messages are held (nats.max_held), their dead letters refused; the server "
        "delivers nothing more until some are written",
        who_, held_limit_);
  if (on_room_) on_room_();
}

void ack_window::send(const char* reply, nats::ack_kind kind) noexcept {
  if (const auto ec = nats::acknowledge(*conn_, reply, kind))
    log().warn("JetStream acknowledgement not sent ({}): the message comes again", ec.message());
}

void ack_window::count_given_back(std::size_t before) noexcept {
  if (given_back_count_ && ledger_.given_back() != before) given_back_count_->add(ledger_.given_back() - before);
}

// All under the mutex: disconnect() waits for it, so once it returned neither the connection
// nor the owner's callback is used again (a stream's reader may acknowledge after the bus
// closed).
void ack_window::done(nats_delivery& d) noexcept {
  std::lock_guard lock(mutex_);
  if (!ack_ledger::live(d.entry)) return;
  if (ledger_.done(d.entry, now()) == ack_ledger::answer::ack && conn_) send(d.raw.reply(), nats::ack_kind::ack);
  if (on_room_) on_room_();
}

void ack_window::release(nats_delivery& d) noexcept {
  std::lock_guard lock(mutex_);
  if (!ack_ledger::live(d.entry)) return;
  const auto before = ledger_.given_back();
  if (ledger_.released(d.entry, now()) == ack_ledger::answer::nak && conn_) send(d.raw.reply(), nats::ack_kind::nak);
  count_given_back(before);
  if (on_room_) on_room_();  // a revoke may wait for it (and the window has room)
}

void ack_window::hold_back(nats_delivery& d) noexcept {
  std::lock_guard lock(mutex_);
  if (!ack_ledger::live(d.entry)) return;
  const auto before = ledger_.given_back();
  ledger_.held_back(d.entry);
  count_given_back(before);
  if (on_room_) on_room_();
}

void ack_window::dropped(nats_delivery& d) noexcept {
  std::lock_guard lock(mutex_);
  if (!ack_ledger::live(d.entry)) return;  // ended (the usual case): nothing changes
  const auto before = ledger_.given_back();
  if (conn_)
    ledger_.held_back(d.entry);
  else
    ledger_.forgotten(d.entry);
  count_given_back(before);
  if (on_room_) on_room_();
}

std::vector<const ack_handle*> ack_window::open_handles() const {
  std::lock_guard lock(mutex_);
  std::vector<const ack_handle*> out;
  for (const auto* e : ledger_.open_entries())
    out.push_back(boost::intrusive::get_parent_from_member<nats_delivery>(e, &nats_delivery::entry));
  return out;
}

std::size_t ack_window::give_back_in_order() noexcept {
  std::lock_guard lock(mutex_);
  const auto before = ledger_.given_back();
  auto given = ledger_.give_back_in_order(now());
  count_given_back(before);
  if (conn_)
    for (const auto& reply : given.naks) send(reply.c_str(), nats::ack_kind::nak);
  return given.count;
}

void ack_window::set_fence(std::chrono::steady_clock::time_point at) noexcept {
  std::lock_guard lock(mutex_);
  ledger_.set_fence(at, now());
}

bool ack_window::fenced() noexcept {
  std::lock_guard lock(mutex_);
  return ledger_.fenced(now());
}

void ack_window::revoke() noexcept {
  std::lock_guard lock(mutex_);
  ledger_.revoke();
}

bool ack_window::revoked() noexcept {
  std::lock_guard lock(mutex_);
  return ledger_.revoked(now());
}

std::size_t ack_window::keep_alive(std::chrono::steady_clock::time_point before) {
  std::lock_guard lock(mutex_);
  if (!conn_) return 0;
  std::size_t n = 0;
  for (const char* reply : ledger_.keep_alive(before, now()))
    if (!nats::acknowledge(*conn_, reply, nats::ack_kind::in_progress)) ++n;
  return n;
}

void ack_window::disconnect() noexcept {
  std::lock_guard lock(mutex_);
  conn_ = nullptr;
  ledger_.disconnect();
  on_room_ = nullptr;
}

void ack_window::on_room(std::function<void()> f) {
  std::lock_guard lock(mutex_);
  on_room_ = std::move(f);
}

}  // namespace corobus::detail
