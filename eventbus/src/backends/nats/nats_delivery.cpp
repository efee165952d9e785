#include "backends/nats/nats_delivery.hpp"
#include <corobus/eventbus/message.hpp>
#include <corobus/runtime/log.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace corobus::detail {
namespace {

// The stream sequence in a JetStream reply subject: $JS.ACK.<stream>.<consumer>.<delivered>.
// <sseq>.<dseq>.<ts>.<pending> (and, from servers with domains, two more tokens after ACK
// and one at the end).
std::int64_t stream_sequence(const char* reply) {
  if (!reply) return -1;
  std::string_view rest(reply);
  std::string_view tokens[12];
  std::size_t n = 0;
  while (n < 12) {
    const auto dot = rest.find('.');
    tokens[n++] = rest.substr(0, dot);
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  const std::size_t at = n >= 11 ? 7 : 5;
  std::int64_t sequence = -1;
  if (n > at) std::from_chars(tokens[at].data(), tokens[at].data() + tokens[at].size(), sequence);
  return sequence;
}

// cnats takes header names as C strings: the envelope's one, spelled out once and checked.
constexpr const char* aggregate_id_header = "X-Aggregate-ID";
static_assert(envelope_headers::aggregate_id == std::string_view(aggregate_id_header));

std::string header_value(natsMsg* m, const char* name) {
  const char* value = nullptr;
  return natsMsgHeader_Get(m, name, &value) == NATS_OK && value ? value : "";
}

}  // namespace

nats_delivery::nats_delivery(std::shared_ptr<ack_window> w, nats::msg_ptr m, const std::string& topic, int partition)
    : window(std::move(w)), raw(std::move(m)) {
  msg.topic = topic;
  if (partition >= 0) msg.partition = partition;
  msg.key = header_value(raw.get(), key_header);
  if (msg.key.empty()) msg.key = header_value(raw.get(), aggregate_id_header);
  msg.offset = stream_sequence(natsMsg_GetReply(raw.get()));
}

nats_delivery::~nats_delivery() { window->dropped(*this); }

std::string_view nats_delivery::payload() const noexcept {
  const char* data = natsMsg_GetData(raw.get());
  return data ? std::string_view(data, static_cast<std::size_t>(natsMsg_GetDataLength(raw.get()))) : std::string_view();
}

corobus::headers nats_delivery::headers() const {
  corobus::headers out;
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(raw.get(), &keys, &count) != NATS_OK) return out;
  for (int i = 0; i < count; ++i) {
    if (std::strcmp(keys[i], key_header) == 0 || std::strcmp(keys[i], "Nats-Msg-Id") == 0) continue;
    const char** values = nullptr;
    int n = 0;
    if (natsMsgHeader_Values(raw.get(), keys[i], &values, &n) != NATS_OK) continue;
    for (int j = 0; j < n; ++j) out.push_back({keys[i], values[j]});
    std::free(values);
  }
  std::free(keys);
  return out;
}

void nats_delivery::done(const message&) noexcept { window->finish(*this, "+ACK"); }
void nats_delivery::released(const message&) noexcept { window->release(*this); }
void nats_delivery::held(const message&) noexcept { window->hold(*this); }
bool nats_delivery::revoked() const noexcept { return window->revoked(); }

ack_window::~ack_window() {
  std::lock_guard lock(mutex_);
  open_.clear();
  held_list_.clear();  // unlinks: deliveries still held (by a stream's reader) forget nothing later
}

int ack_window::room() const noexcept {
  const auto used = in_flight();
  const auto pending = used + held();
  if (used >= limit_ || pending >= limit_ + held_limit_) return 0;
  return static_cast<int>(std::min(limit_ - used, limit_ + held_limit_ - pending));
}

void ack_window::opened(nats_delivery& d) {
  std::lock_guard lock(mutex_);
  d.open = true;
  d.progress_at = std::chrono::steady_clock::now();
  open_.push_back(d);
  in_flight_.fetch_add(1);
}

void ack_window::hold(nats_delivery& d) noexcept {
  std::lock_guard lock(mutex_);
  if (!d.open || d.is_held) return;
  if (d.hook.is_linked()) open_.erase(open_.iterator_to(d));
  held_list_.push_back(d);
  d.is_held = true;
  held_.fetch_add(1);
  in_flight_.fetch_sub(1);
  if (held_limit_ > 0 && held() == held_limit_)
    log().error(
        "JetStream consumer '{}': {} messages are held (nats.max_held), their dead letters refused; the server "
        "delivers nothing more until some are written",
        who_, held_limit_);
  if (on_room_) on_room_();
}

bool ack_window::unlink(nats_delivery& d) noexcept {
  if (!d.open) return false;
  d.open = false;
  if (d.is_held) {
    d.is_held = false;
    if (d.hook.is_linked()) held_list_.erase(held_list_.iterator_to(d));
    held_.fetch_sub(1);
    return true;
  }
  if (d.hook.is_linked()) open_.erase(open_.iterator_to(d));
  in_flight_.fetch_sub(1);  // sequentially consistent: see pull_subscription::refill
  return true;
}

void ack_window::finish(nats_delivery& d, const char* body) noexcept {
  // All under the mutex: disconnect() waits for it, so once it returned neither the
  // connection nor the owner's callback is used again (a stream's reader may acknowledge
  // after the bus closed).
  std::lock_guard lock(mutex_);
  if (!unlink(d)) return;
  if (given_back_count_ && std::strcmp(body, "-NAK") == 0) given_back_count_->add();
  const char* reply = natsMsg_GetReply(d.raw.get());
  if (nc_ && reply && !fenced()) {
    if (const auto s = natsConnection_PublishString(nc_, reply, body); s != NATS_OK)
      log().warn("JetStream acknowledgement '{}' not sent ({}): the message comes again", body, natsStatus_GetText(s));
  }
  if (on_room_) on_room_();
}

void ack_window::release(nats_delivery& d) noexcept {
  if (!revoked()) return finish(d, "-NAK");
  hold_back(d);
}

void ack_window::hold_back(nats_delivery& d) noexcept {
  std::lock_guard lock(mutex_);
  hold_back_locked(d);
}

void ack_window::dropped(nats_delivery& d) noexcept {
  std::lock_guard lock(mutex_);
  if (nc_)
    hold_back_locked(d);
  else
    unlink(d);
}

void ack_window::hold_back_locked(nats_delivery& d) noexcept {
  if (!unlink(d)) return;
  if (given_back_count_) given_back_count_->add();
  if (const char* reply = natsMsg_GetReply(d.raw.get())) given_back_.emplace_back(d.msg.offset, reply);
  if (on_room_) on_room_();  // a revoke may wait for it (and the window has room)
}

std::vector<const ack_handle*> ack_window::open_handles() const {
  std::lock_guard lock(mutex_);
  std::vector<const ack_handle*> out;
  for (const auto& d : open_) out.push_back(&d);
  return out;
}

std::size_t ack_window::give_back_in_order() noexcept {
  std::lock_guard lock(mutex_);
  // The server redelivers -NAKed messages in the order the -NAKs came, before newer ones.
  for (auto* l : {&open_, &held_list_}) {
    for (auto& d : *l)
      if (const char* reply = natsMsg_GetReply(d.raw.get())) given_back_.emplace_back(d.msg.offset, reply);
    if (given_back_count_) given_back_count_->add(l->size());
    while (!l->empty()) unlink(l->front());
  }
  std::sort(given_back_.begin(), given_back_.end());
  if (nc_ && !fenced())
    for (const auto& [sequence, reply] : given_back_) natsConnection_PublishString(nc_, reply.c_str(), "-NAK");
  const auto n = given_back_.size();
  given_back_.clear();
  return n;
}

void ack_window::set_fence(std::chrono::steady_clock::time_point at) noexcept {
  if (!fence_passed_.load()) fence_at_.store(at.time_since_epoch().count());
}

bool ack_window::fenced() const noexcept {
  if (fence_passed_.load(std::memory_order_relaxed)) return true;
  const auto at = fence_at_.load(std::memory_order_relaxed);
  if (at == std::chrono::steady_clock::time_point::max().time_since_epoch().count() ||
      std::chrono::steady_clock::now().time_since_epoch().count() < at)
    return false;
  fence_passed_.store(true);
  return true;
}

std::size_t ack_window::keep_alive(std::chrono::steady_clock::time_point before) {
  std::lock_guard lock(mutex_);
  // Fenced: silent, so the server's ack wait runs out from this member's last sign of life.
  if (!nc_ || fenced()) return 0;
  std::size_t n = 0;
  const auto now = std::chrono::steady_clock::now();
  for (auto* l : {&open_, &held_list_})
    for (auto& d : *l) {
      if (d.progress_at > before) continue;
      if (const char* reply = natsMsg_GetReply(d.raw.get()))
        if (natsConnection_PublishString(nc_, reply, "+WPI") == NATS_OK) ++n;
      d.progress_at = now;
    }
  return n;
}

void ack_window::disconnect() noexcept {
  std::lock_guard lock(mutex_);
  nc_ = nullptr;
  on_room_ = nullptr;
}

void ack_window::on_room(std::function<void()> f) {
  std::lock_guard lock(mutex_);
  on_room_ = std::move(f);
}

}  // namespace corobus::detail
