#pragma once
// One message pulled from a durable consumer, from the pull until its acknowledgement, and
// the window of those not yet acknowledged (the consumer's max_ack_pending, seen from here).
//
// What a message occupies: from its pull until it ends, one slot of the window (`limit`:
// the group's max_in_flight, or its partition's share). A held one (its dead letter
// refused) gives its slot back, so the other keys go on, and occupies one of `held_limit`
// instead: still unacknowledged (kept alive by +WPI, as the server counts it in
// max_ack_pending = limit + held_limit), until its letter is written, it is given back, or
// the bus closes. Nothing is pulled while either is full.
//
// The acknowledgements are JetStream protocol messages on the delivery's reply subject: +ACK
// when it was handled or dead-lettered (ack_handle::done), -NAK when it is given back
// (released), +WPI while it waits or runs long (keep_alive: the ack wait runs from delivery,
// also for a message queued in its lane).
//
// A partition's window can be revoked (its partition moves to another member: what is queued
// is dropped, and given back in the stream's order once the running handlers ended, so the
// next owner sees them in order) and fenced (past the lease's safe end: nothing is handled or
// sent any more, not even +WPI, so the server redelivers it all to the next owner one ack wait
// after this member's last sign of life). Never natsMsg_Ack: on a message of a plain
// subscription cnats 3.4.1 dereferences a null JetStream context and crashes.
#include <corobus/awaitables/nats/library.hpp>
#include <corobus/awaitables/nats/reply_router.hpp>
#include <corobus/runtime/striped_counter.hpp>
#include "core/incoming_message.hpp"

#include <boost/intrusive/list.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace corobus::detail {

class ack_window;

struct nats_delivery final : fetched_record, ack_handle {
  // `topic`: the bus's (a partition's subject is `<topic>.<partition>`).
  nats_delivery(std::shared_ptr<ack_window> w, nats::msg_ptr m, const std::string& topic, int partition);
  ~nats_delivery() override;  // never ended (a hand-over cancelled at close): ack_window::dropped

  std::string_view payload() const noexcept override;
  corobus::headers headers() const override;  // but the bus's own (Corobus-Key, Nats-Msg-Id)

  void done(const message&) noexcept override;
  void released(const message&) noexcept override;
  void held(const message&) noexcept override;
  bool revoked() const noexcept override;

  std::shared_ptr<ack_window> window;
  nats::msg_ptr raw;
  message msg;
  // The window's, under its mutex:
  boost::intrusive::list_member_hook<> hook;
  std::chrono::steady_clock::time_point progress_at;  // delivered, or the last +WPI
  bool open = false;
  bool is_held = false;  // open, in the held list
};

// Thread-safe: deliveries end on handler threads.
class ack_window {
 public:
  // `who` names the consumer in log lines; `given_back` (if any) counts the deliveries given
  // back unhandled (release, give_back_in_order).
  ack_window(natsConnection* nc, std::size_t limit, std::size_t held_limit, std::string who,
             striped_counter* given_back = nullptr)
      : nc_(nc), limit_(limit), held_limit_(held_limit), who_(std::move(who)), given_back_count_(given_back) {}
  ~ack_window();

  // Called after each end, under the window's mutex (the pull may wait for room); cheap.
  void on_room(std::function<void()> f);

  std::size_t in_flight() const noexcept { return in_flight_.load(); }  // in the window
  std::size_t held() const noexcept { return held_.load(); }
  // What may be pulled now: room in the window and in what the server lets be pending.
  int room() const noexcept;

  void opened(nats_delivery& d);
  // Moves `d` out of the window into the held ones (see the top).
  void hold(nats_delivery& d) noexcept;
  // Sends `body` for `d` (once), and lets it go.
  void finish(nats_delivery& d, const char* body) noexcept;
  // -NAK at once; once revoked, held back.
  void release(nats_delivery& d) noexcept;
  // Lets it go, to be given back (-NAK) by give_back_in_order().
  void hold_back(nats_delivery& d) noexcept;
  // Destroyed without an end (at close: pulled and not handed over, or abandoned in a lane):
  // held back like a revoked one, to be given back in order; once disconnected, left to the
  // ack wait.
  void dropped(nats_delivery& d) noexcept;
  // +WPI for each delivery with no progress since `before`; how many.
  std::size_t keep_alive(std::chrono::steady_clock::time_point before);
  // The connection closes: what ends from now on is not acknowledged (it comes again), and
  // the owner hears nothing more of it.
  void disconnect() noexcept;

  // A partition's lease (see the top): revoked() from revoke() on, or once the clock passes
  // the fence; every renewed lease moves the fence on. Once passed, a fence stays: what came
  // meanwhile was held back, so a renewal that lands late must not let newer messages run
  // before those (the owner gives the partition up instead).
  void set_fence(std::chrono::steady_clock::time_point at) noexcept;
  bool fenced() const noexcept;
  void revoke() noexcept { revoked_.store(true); }
  bool revoked() const noexcept { return revoked_.load() || fenced(); }
  // The deliveries still open, to interrupt their handlers (compared, never dereferenced:
  // one may end meanwhile).
  std::vector<const ack_handle*> open_handles() const;
  // -NAK for what was held back and everything still open (held too), in stream order;
  // nothing more is sent for them. How many.
  std::size_t give_back_in_order() noexcept;

 private:
  using list = boost::intrusive::list<
      nats_delivery,
      boost::intrusive::member_hook<nats_delivery, boost::intrusive::list_member_hook<>, &nats_delivery::hook>>;
  bool unlink(nats_delivery& d) noexcept;  // under mutex_
  void hold_back_locked(nats_delivery& d) noexcept;

  // Held by every delivery through its window: a stream reader may keep a delivery after
  // its bus closed, and natsMsg_Destroy after the last nats_Close crashes in cnats's GC
  // (seen: a null mutex in natsGC_collect). First member, so it goes last.
  nats::library_use library_;
  mutable std::mutex mutex_;
  natsConnection* nc_;  // null once disconnected
  list open_;
  list held_list_;
  std::vector<std::pair<std::int64_t, std::string>> given_back_;  // (stream sequence, reply) held back
  std::size_t limit_;
  std::size_t held_limit_;
  std::string who_;
  striped_counter* given_back_count_;
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::size_t> held_{0};
  std::atomic<bool> revoked_{false};
  // steady_clock ticks; the maximum while no lease fences the window.
  std::atomic<std::chrono::steady_clock::rep> fence_at_{
      std::chrono::steady_clock::time_point::max().time_since_epoch().count()};
  mutable std::atomic<bool> fence_passed_{false};  // latched by the first fenced() past it
  std::function<void()> on_room_;
};

// The message's ordering key: the bus's Corobus-Key header, else an envelope's aggregate id.
inline constexpr const char* key_header = "Corobus-Key";

}  // namespace corobus::detail
