#pragma once
// One message pulled from a durable consumer, from the pull until its acknowledgement, and
// the window of those not yet acknowledged (the consumer's max_ack_pending, seen from here).
// What a delivery occupies and what is sent for it is the ack ledger's decision
// (ack_ledger.hpp); the window locks the ledger and sends what it says
// (nats::jetstream_message): +ACK when it was handled or dead-lettered (ack_handle::done),
// -NAK when it is given back (released), +WPI while it waits or runs long (keep_alive: the ack
// wait runs from delivery, also for a message queued in its lane).
//
// A partition's window can be revoked (its partition moves to another member: what is queued
// is dropped, and given back in the stream's order once the running handlers ended, so the
// next owner sees them in order) and fenced (past the lease's safe end: nothing is handled or
// sent any more, not even +WPI, so the server redelivers it all to the next owner one ack wait
// after this member's last sign of life).
#include <corobus/awaitables/nats/jetstream_message.hpp>
#include <corobus/awaitables/nats/library.hpp>
#include <corobus/runtime/striped_counter.hpp>
#include "backends/nats/ack_ledger.hpp"
#include "core/incoming_message.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace corobus::detail {

class ack_window;

struct nats_delivery final : fetched_record, ack_handle {
  // `topic`: the bus's (a partition's subject is `<topic>.<partition>`).
  nats_delivery(std::shared_ptr<ack_window> w, nats::jetstream_message m, const std::string& topic, int partition);
  ~nats_delivery() override;  // never ended (a hand-over cancelled at close): ack_window::dropped

  std::string_view payload() const noexcept override;
  corobus::headers headers() const override;  // but the bus's own (Corobus-Key, Nats-Msg-Id)

  void done(const message&) noexcept override;
  void released(const message&) noexcept override;
  void held(const message&) noexcept override;
  bool revoked() const noexcept override;

  std::shared_ptr<ack_window> window;
  nats::jetstream_message raw;
  message msg;
  ack_ledger::entry entry;  // the window's, under its mutex
};

// Thread-safe: deliveries end on handler threads.
class ack_window {
 public:
  // `who` names the consumer in log lines; `given_back` (if any) counts the deliveries given
  // back unhandled. `conn`: null sends nothing (a window in a test).
  ack_window(const nats::connection* conn, std::size_t limit, std::size_t held_limit, std::string who,
             striped_counter* given_back = nullptr)
      : conn_(conn),
        ledger_(limit, held_limit),
        held_limit_(held_limit),
        who_(std::move(who)),
        given_back_count_(given_back) {}

  // Called after each end, under the window's mutex (the pull may wait for room); cheap.
  void on_room(std::function<void()> f);

  std::size_t in_flight() const;  // in the window
  std::size_t held() const;
  // What may be pulled now: room in the window and in what the server lets be pending.
  int room() const;

  void opened(nats_delivery& d);
  // Moves `d` out of the window into the held ones (see ack_ledger).
  void hold(nats_delivery& d) noexcept;
  // +ACK, and lets it go.
  void done(nats_delivery& d) noexcept;
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

  // A partition's lease (see ack_ledger): revoked() from revoke() on, or once the clock
  // passes the fence; every renewed lease moves the fence on, until it passed once.
  void set_fence(std::chrono::steady_clock::time_point at) noexcept;
  bool fenced() noexcept;
  void revoke() noexcept;
  bool revoked() noexcept;
  // The deliveries still open, to interrupt their handlers (compared, never dereferenced:
  // one may end meanwhile).
  std::vector<const ack_handle*> open_handles() const;
  // -NAK for what was held back and everything still open (held too), in stream order;
  // nothing more is sent for them. How many.
  std::size_t give_back_in_order() noexcept;

 private:
  // Under mutex_: sends `kind` to `reply`; counts what the ledger gave back since `before`.
  void send(const char* reply, nats::ack_kind kind) noexcept;
  void count_given_back(std::size_t before) noexcept;

  // Held by every delivery through its window: a stream reader may keep a delivery after
  // its bus closed, and natsMsg_Destroy after the last nats_Close crashes in cnats's GC
  // (seen: a null mutex in natsGC_collect). First member, so it goes last.
  nats::library_use library_;
  mutable std::mutex mutex_;
  const nats::connection* conn_;  // null once disconnected
  ack_ledger ledger_;
  std::size_t held_limit_;
  std::string who_;
  striped_counter* given_back_count_;
  std::function<void()> on_room_;
};

// The message's ordering key: the bus's Corobus-Key header, else an envelope's aggregate id.
inline constexpr const char* key_header = "Corobus-Key";

}  // namespace corobus::detail
