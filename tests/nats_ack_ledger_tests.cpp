// A JetStream consumer's acknowledgement ledger as pure state (ack_ledger): unit cases, then
// a model test of random pulls, ends, holds, drops, revokes, fences, keep-alives, give-backs
// and disconnects, checking after every event that nothing is lost or acknowledged twice and
// that a fenced owner sends nothing.
#include <boost/test/unit_test.hpp>

#include "backends/nats/ack_ledger.hpp"
#include "model_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <list>
#include <map>
#include <string>
#include <vector>

using corobus::detail::ack_ledger;
using answer = ack_ledger::answer;
using namespace std::chrono_literals;

namespace {

const ack_ledger::time_point t0{};

// Deliveries with stable addresses and reply subjects.
struct deliveries {
  ack_ledger::entry& pull(ack_ledger& ledger, std::int64_t sequence, ack_ledger::time_point now = t0) {
    replies.push_back(fmt::format("$JS.ACK.S.c.1.{}.{}.0.0", sequence, sequence));
    auto& e = entries.emplace_back();
    e.sequence = sequence;
    e.reply = replies.back().c_str();
    ledger.opened(e, now);
    return e;
  }
  std::list<std::string> replies;
  std::list<ack_ledger::entry> entries;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(nats_ack_ledger, *boost::unit_test::label("unit"))

BOOST_AUTO_TEST_CASE(a_handled_delivery_is_acknowledged_once_and_a_released_one_given_back) {
  deliveries d;  // first: the ledger lists its entries until it goes
  ack_ledger ledger(2, 1);
  auto& a = d.pull(ledger, 1);
  auto& b = d.pull(ledger, 2);
  BOOST_TEST(ledger.room() == 0u);
  BOOST_TEST((ledger.done(a, t0) == answer::ack));
  BOOST_TEST((ledger.done(a, t0) == answer::nothing));  // once
  BOOST_TEST((ledger.released(b, t0) == answer::nak));
  BOOST_TEST(ledger.given_back() == 1u);
  BOOST_TEST(ledger.room() == 2u);
}

BOOST_AUTO_TEST_CASE(a_held_delivery_leaves_the_window_for_one_of_held_limit) {
  deliveries d;  // first: the ledger lists its entries until it goes
  ack_ledger ledger(2, 1);
  auto& a = d.pull(ledger, 1);
  d.pull(ledger, 2);
  BOOST_TEST(ledger.hold(a));  // held_limit reached
  BOOST_TEST(ledger.in_flight() == 1u);
  BOOST_TEST(ledger.held() == 1u);
  BOOST_TEST(ledger.room() == 1u);  // its slot is back: 2 open and 1 held fill max_ack_pending (3)
  auto& c = d.pull(ledger, 3);
  BOOST_TEST(ledger.room() == 0u);
  BOOST_TEST((ledger.done(a, t0) == answer::ack));  // its dead letter was written at last
  BOOST_TEST(ledger.room() == 0u);                  // the window is still full
  BOOST_TEST((ledger.done(c, t0) == answer::ack));
  BOOST_TEST(ledger.room() == 1u);
}

BOOST_AUTO_TEST_CASE(once_revoked_what_is_given_back_waits_and_goes_out_in_stream_order) {
  deliveries d;  // first: the ledger lists its entries until it goes
  ack_ledger ledger(10, 0);
  auto& first = d.pull(ledger, 1);
  d.pull(ledger, 2);
  auto& third = d.pull(ledger, 3);
  ledger.revoke();
  BOOST_TEST((ledger.released(third, t0) == answer::nothing));  // held back
  ledger.held_back(first);
  const auto given = ledger.give_back_in_order(t0);
  BOOST_TEST(given.count == 3u);
  BOOST_TEST_REQUIRE(given.naks.size() == 3u);
  BOOST_TEST(given.naks[0] == "$JS.ACK.S.c.1.1.1.0.0");
  BOOST_TEST(given.naks[2] == "$JS.ACK.S.c.1.3.3.0.0");
  BOOST_TEST(ledger.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(past_the_fence_nothing_is_sent_and_a_late_renewal_does_not_move_it) {
  deliveries d;  // first: the ledger lists its entries until it goes
  ack_ledger ledger(10, 0);
  auto& a = d.pull(ledger, 1);
  auto& b = d.pull(ledger, 2);
  ledger.set_fence(t0 + 2s, t0);
  BOOST_TEST(ledger.keep_alive(t0, t0 + 1s).size() == 2u);
  BOOST_TEST(ledger.fenced(t0 + 2s));
  ledger.set_fence(t0 + 4s, t0 + 2s);  // too late
  BOOST_TEST(ledger.fenced(t0 + 2s));
  BOOST_TEST(ledger.keep_alive(t0 + 3s, t0 + 3s).empty());
  BOOST_TEST((ledger.done(a, t0 + 3s) == answer::nothing));
  BOOST_TEST((ledger.released(b, t0 + 3s) == answer::nothing));  // the ack wait gives it back
  BOOST_TEST(ledger.give_back_in_order(t0 + 3s).naks.empty());
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// One consumer's deliveries: pulled, handled, failed (held), released, dropped by a closing
// lane, kept alive, fenced by a lease whose renewals stop, revoked and given back, or cut off
// by a disconnect. The model keeps its own fence, revoke and connection, and what each
// delivery became on the wire.
class ack_model {
 public:
  ack_model() : ledger_(limit, held_limit) {}

  std::string step(std::mt19937& random) {
    using st = ack_ledger::entry::state;
    const auto pick = [&](bool held_too) -> delivery* {
      std::vector<delivery*> live;
      for (auto& d : deliveries_)
        if (d.entry.st == st::open || (held_too && d.entry.st == st::held)) live.push_back(&d);
      return live.empty() ? nullptr : live[random() % live.size()];
    };
    switch (random() % 11) {
      case 0:
      case 1:
        if (ledger_.room() > 0 && !stopped()) {
          auto& d = deliveries_.emplace_back();
          d.reply = fmt::format("$JS.ACK.S.c.1.{}.{}.0.0", next_sequence_, next_sequence_);
          d.entry.sequence = next_sequence_++;
          d.entry.reply = d.reply.c_str();
          ledger_.opened(d.entry, now_);
          return fmt::format("pull {}", d.entry.sequence);
        }
        break;
      case 2:
      case 3:
        if (auto* d = pick(true)) {
          const auto what = ledger_.done(d->entry, now_);
          if (what == answer::ack)
            sent(*d);
          else if (silent())
            d->silent_end = true;
          else
            problem_ = fmt::format("{} was handled and not acknowledged", d->entry.sequence);
          return fmt::format("done {}", d->entry.sequence);
        }
        break;
      case 4:
        if (auto* d = pick(true)) {
          const auto what = ledger_.released(d->entry, now_);
          if (what == answer::nak)
            sent(*d);
          else if (stopped())
            d->awaiting_give_back = true;
          else if (silent())
            d->silent_end = true;
          else
            problem_ = fmt::format("{} was released and neither given back nor held back", d->entry.sequence);
          return fmt::format("released {}", d->entry.sequence);
        }
        break;
      case 5:
        if (auto* d = pick(false)) {
          ledger_.hold(d->entry);
          return fmt::format("held {}", d->entry.sequence);
        }
        break;
      case 6:
        if (auto* d = pick(true)) {  // its delivery destroyed without an end
          if (connected_) {
            ledger_.held_back(d->entry);
            d->awaiting_give_back = true;
          } else {
            ledger_.forgotten(d->entry);
            d->silent_end = true;
          }
          return fmt::format("dropped {}", d->entry.sequence);
        }
        break;
      case 7: {
        const auto by = std::chrono::milliseconds(random() % 700);
        now_ += by;
        if (now_ >= fence_) fence_passed_ = true;
        if (random() % 3 != 0) {  // a renewal landed, sent a little before
          const auto at = now_ - std::chrono::milliseconds(random() % 300) + 2s;
          ledger_.set_fence(at, now_);
          if (!fence_passed_) fence_ = at;
        }
        return fmt::format("clock +{} ms", by.count());
      }
      case 8: {
        const auto alive = ledger_.keep_alive(now_ - 500ms, now_);
        if (silent() && !alive.empty()) problem_ = "+WPI sent past the fence or without a connection";
        return fmt::format("keep alive: {}", alive.size());
      }
      case 9:
        if (random() % 6 == 0) return give_back();
        break;
      case 10:
        if (random() % 10 == 0) {
          ledger_.disconnect();
          connected_ = false;
          return "disconnected";
        }
        break;
    }
    return "nothing";
  }

  std::string broken() const {
    if (!problem_.empty()) return problem_;
    std::size_t open = 0;
    std::size_t held = 0;
    for (const auto& d : deliveries_) {
      using st = ack_ledger::entry::state;
      if (d.entry.st == st::open) ++open;
      if (d.entry.st == st::held) ++held;
      if (d.entry.st != st::ended) continue;
      // Ended: acknowledged or given back once, waiting to be given back in order, or left
      // to the server's ack wait (nothing could be sent); exactly one of them.
      const int outcomes = d.sent + d.awaiting_give_back + d.silent_end;
      if (outcomes != 1)
        return fmt::format("{} ended with {} answers sent, {} waiting to be given back, {} silent", d.entry.sequence,
                           d.sent, d.awaiting_give_back, d.silent_end);
    }
    if (open != ledger_.in_flight() || held != ledger_.held())
      return fmt::format("the ledger counts {} open and {} held, there are {} and {}", ledger_.in_flight(),
                         ledger_.held(), open, held);
    if (open > limit || open + held > limit + held_limit) return "over the window or max_ack_pending";
    return {};
  }

 private:
  static constexpr std::size_t limit = 8;
  static constexpr std::size_t held_limit = 2;
  struct delivery {
    std::string reply;
    ack_ledger::entry entry;
    int sent = 0;  // +ACK or -NAK
    bool awaiting_give_back = false;
    bool silent_end = false;
  };

  bool silent() const { return !connected_ || fence_passed_; }
  bool stopped() const { return revoked_ || fence_passed_; }

  void sent(delivery& d) {
    if (silent()) problem_ = fmt::format("{} answered past the fence or without a connection", d.entry.sequence);
    ++d.sent;
  }

  std::string give_back() {
    revoked_ = true;
    ledger_.revoke();
    std::vector<delivery*> expected;
    for (auto& d : deliveries_) {
      using st = ack_ledger::entry::state;
      if (d.entry.st == st::open || d.entry.st == st::held || d.awaiting_give_back) expected.push_back(&d);
    }
    std::sort(expected.begin(), expected.end(),
              [](const delivery* a, const delivery* b) { return a->entry.sequence < b->entry.sequence; });
    const auto given = ledger_.give_back_in_order(now_);
    if (given.count != expected.size())
      problem_ = fmt::format("{} given back, {} were to be", given.count, expected.size());
    if (silent() ? !given.naks.empty() : given.naks.size() != expected.size())
      problem_ = fmt::format("{} -NAKs for {} to give back ({})", given.naks.size(), expected.size(),
                             silent() ? "silent" : "connected");
    for (std::size_t i = 0; i < expected.size(); ++i) {
      auto& d = *expected[i];
      d.awaiting_give_back = false;
      if (silent()) {
        d.silent_end = true;
      } else if (i < given.naks.size()) {
        if (given.naks[i] != d.reply) problem_ = "given back out of stream order";
        sent(d);
      }
    }
    return fmt::format("revoked; {} given back", given.count);
  }

  std::list<delivery> deliveries_;  // first: the ledger lists their entries until it goes
  ack_ledger ledger_;
  std::int64_t next_sequence_ = 1;
  ack_ledger::time_point now_{};
  ack_ledger::time_point fence_ = ack_ledger::time_point::max();
  bool fence_passed_ = false;
  bool revoked_ = false;
  bool connected_ = true;
  std::string problem_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(nats_ack_ledger_model, *boost::unit_test::label("unit"))

// Invariants: a delivery is open, held, or ended exactly one way (acknowledged or given back
// once, waiting to be given back in order, or left to the ack wait when nothing could be
// sent); nothing is sent past the fence or without a connection; what is given back goes in
// stream order; the ledger's counts are the deliveries', within the window and within
// max_ack_pending (the window and held_limit).
BOOST_AUTO_TEST_CASE(random_ends_holds_drops_fences_and_give_backs_lose_nothing_and_answer_once) {
  corobus::test::run_model<ack_model>(1, 1000, 500);
}

BOOST_AUTO_TEST_SUITE_END()
