#pragma once
// One message pulled from a durable consumer, from the pull until its acknowledgement, and
// the window of those not yet acknowledged (the consumer's max_ack_pending, seen from here).
//
// The acknowledgements are JetStream protocol messages on the delivery's reply subject: +ACK
// when it was handled or dead-lettered (ack_handle::done), -NAK when it is given back
// (released), +WPI while it waits or runs long (keep_alive: the ack wait runs from delivery,
// also for a message queued in its lane). Never natsMsg_Ack: on a message of a plain
// subscription cnats 3.4.1 dereferences a null JetStream context and crashes.
#include <corobus/awaitables/nats/reply_router.hpp>
#include "core/incoming_message.hpp"

#include <boost/intrusive/list.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

namespace corobus::detail {

class ack_window;

struct nats_delivery final : fetched_record, ack_handle {
  nats_delivery(std::shared_ptr<ack_window> w, nats::msg_ptr m);
  ~nats_delivery() override;  // never ended (abandoned at close): it leaves the window unacknowledged

  std::string_view payload() const noexcept override;
  corobus::headers headers() const override;  // but the bus's own (Corobus-Key, Nats-Msg-Id)

  void done(const message&) noexcept override;
  void released(const message&) noexcept override;
  void held(const message&) noexcept override {}            // kept alive like any unacknowledged one
  bool revoked() const noexcept override { return false; }  // the server assigns nothing

  std::shared_ptr<ack_window> window;
  nats::msg_ptr raw;
  message msg;
  // The window's, under its mutex:
  boost::intrusive::list_member_hook<> hook;
  std::chrono::steady_clock::time_point progress_at;  // delivered, or the last +WPI
  bool open = false;
};

// Thread-safe: deliveries end on handler threads.
class ack_window {
 public:
  ack_window(natsConnection* nc, std::size_t limit) : nc_(nc), limit_(limit) {}
  ~ack_window();

  // Called after each end, under the window's mutex (the pull may wait for room); cheap.
  void on_room(std::function<void()> f);

  std::size_t in_flight() const noexcept { return in_flight_.load(); }
  int room() const noexcept;

  void opened(nats_delivery& d);
  // Sends `body` for `d` (once), and lets it go.
  void finish(nats_delivery& d, const char* body) noexcept;
  // Leaves without an acknowledgement (redelivered after the ack wait).
  void forget(nats_delivery& d) noexcept;
  // +WPI for each delivery with no progress since `before`; how many.
  std::size_t keep_alive(std::chrono::steady_clock::time_point before);
  // The connection closes: what ends from now on is not acknowledged (it comes again), and
  // the owner hears nothing more of it.
  void disconnect() noexcept;

 private:
  using list = boost::intrusive::list<
      nats_delivery,
      boost::intrusive::member_hook<nats_delivery, boost::intrusive::list_member_hook<>, &nats_delivery::hook>>;
  bool unlink(nats_delivery& d) noexcept;  // under mutex_

  mutable std::mutex mutex_;
  natsConnection* nc_;  // null once disconnected
  list open_;
  std::size_t limit_;
  std::atomic<std::size_t> in_flight_{0};
  std::function<void()> on_room_;
};

// The message's ordering key: the bus's Corobus-Key header, else an envelope's aggregate id.
inline constexpr const char* key_header = "Corobus-Key";

}  // namespace corobus::detail
