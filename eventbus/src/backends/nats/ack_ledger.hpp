#pragma once
// The acknowledgements of one JetStream consumer's deliveries as pure state: every delivery
// from its pull until it ends, what the in-flight window counts, which are held, which are
// held back to be given back in order, and what to send for each. Events in, what to send
// out; no I/O, no clock reads (times are arguments), not thread-safe: ack_window locks it and
// sends what it says.
//
// What a delivery occupies: from its pull until it ends, one slot of the window (`limit`).
// A held one (its dead letter refused) gives its slot back, so the other keys go on, and
// takes one of `held_limit` instead: still unacknowledged (kept alive by +WPI, as the server
// counts it in max_ack_pending = limit + held_limit) until its letter is written, it is given
// back, or the bus closes.
//
// Once revoked (its partition moves to another member), what is given back is held back and
// sent by give_back_in_order(), in stream order, so the next owner sees it in order. Once
// the fence passed (the lease's safe end) or the connection is gone, nothing is sent at all,
// not even +WPI: the server redelivers it all one ack wait after the last sign of life.
#include <boost/intrusive/list.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace corobus::detail {

class ack_ledger {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // A delivery's place in the ledger, embedded in the delivery.
  struct entry {
    enum class state : unsigned char { pulled, open, held, ended };
    boost::intrusive::list_member_hook<> hook;
    std::int64_t sequence = -1;   // in the stream
    const char* reply = nullptr;  // the delivery's reply subject (its address for acknowledgements)
    time_point progress_at;       // pulled, or the last +WPI
    state st = state::pulled;
  };

  // What to send for an ending: nothing, +ACK or -NAK.
  enum class answer { nothing, ack, nak };

  ack_ledger(std::size_t limit, std::size_t held_limit) : limit_(limit), held_limit_(held_limit) {}
  ~ack_ledger();  // unlinks what is still listed

  // Open or held: not yet ended.
  static bool live(const entry& e) noexcept { return e.st == entry::state::open || e.st == entry::state::held; }

  std::size_t in_flight() const noexcept { return open_.size(); }
  std::size_t held() const noexcept { return held_list_.size(); }
  // What may be pulled now: room in the window and in what the server lets be pending.
  std::size_t room() const noexcept;

  void opened(entry& e, time_point now);
  // Moves `e` from the window to the held ones; true when that filled held_limit.
  bool hold(entry& e);
  // Handled or dead-lettered: +ACK, unless nothing may be sent.
  answer done(entry& e, time_point now);
  // Not handled here: -NAK now, or held back once revoked.
  answer released(entry& e, time_point now);
  // Ended without a word: held back, to be given back in order (a pull not handed over).
  void held_back(entry& e);
  // Ended and gone, with nothing to send ever (the connection is gone: the ack wait gives it
  // back).
  void forgotten(entry& e) { end(e); }
  // The deliveries to send +WPI for (no progress since `before`), their progress set to `now`;
  // none once nothing may be sent.
  std::vector<const char*> keep_alive(time_point before, time_point now);
  // Ends everything still open or held, and hands out what was held back, in stream order:
  // the replies to send -NAK to (none once nothing may be sent), and how many were given back.
  struct give_back {
    std::vector<std::string> naks;
    std::size_t count = 0;
  };
  give_back give_back_in_order(time_point now);
  // Deliveries given back so far: released, held back or given back in order.
  std::size_t given_back() const noexcept { return given_back_; }

  void revoke() noexcept { revoked_ = true; }
  // The lease's fence: moved on by each renewal until it passed once (what came meanwhile
  // was held back, so a late renewal must not let newer messages go first).
  void set_fence(time_point at, time_point now) noexcept;
  void disconnect() noexcept { connected_ = false; }
  bool fenced(time_point now) noexcept;
  bool revoked(time_point now) noexcept { return revoked_ || fenced(now); }
  bool connected() const noexcept { return connected_; }
  // Compared, never dereferenced: the entries still open.
  std::vector<const entry*> open_entries() const;

 private:
  using list =
      boost::intrusive::list<entry,
                             boost::intrusive::member_hook<entry, boost::intrusive::list_member_hook<>, &entry::hook>>;
  bool end(entry& e);  // true when it was open or held
  bool silent(time_point now) { return !connected_ || fenced(now); }

  list open_;
  list held_list_;
  std::vector<std::pair<std::int64_t, std::string>> held_back_;  // (stream sequence, reply)
  std::size_t limit_;
  std::size_t held_limit_;
  std::size_t given_back_ = 0;
  bool revoked_ = false;
  bool connected_ = true;
  time_point fence_ = time_point::max();
  bool fence_passed_ = false;
};

}  // namespace corobus::detail
