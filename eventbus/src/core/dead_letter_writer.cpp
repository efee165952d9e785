#include "core/dead_letter_writer.hpp"
#include <corobus/eventbus/topic.hpp>
#include <corobus/runtime/log.hpp>
#include "core/dead_letter.hpp"
#include "envelope/printable.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>

namespace corobus::detail {

dead_letter_writer::dead_letter_writer(const dead_letter_policy& policy, detail::backend& backend, io_pool& pool,
                                       counters& stats, const std::atomic<bool>& closing)
    : policy_(policy), backend_(backend), pool_(pool), stats_(stats), closing_(closing) {}

asio::awaitable<void> dead_letter_writer::write_undecodable(incoming_message in, std::string error) {
  stats_.undecodable.add();
  co_await write(std::move(in), "undecodable envelope: " + error, 0);
}

struct dead_letter_writer::pending_dead_letter {
  pending_dead_letter(incoming_message i, std::string e, unsigned a, const dead_letter_policy& policy,
                      const record_limits& limits)
      : in(std::move(i)),
        error(std::move(e)),
        attempts(a),
        draft(make_dead_letter(in, error, attempts, limits)),
        plan(policy, draft.value_budget),
        where(fmt::format("'{}' partition {} offset {} key '{}'", in.msg->topic, in.msg->partition, in.msg->offset,
                          printable(in.msg->key))) {}

  incoming_message in;
  std::string error;
  unsigned attempts;
  dead_letter_draft draft;
  dead_letter_plan plan;
  std::string where;
  std::chrono::milliseconds next_wait{0};
};

asio::awaitable<void> dead_letter_writer::write(incoming_message in, std::string error, unsigned attempts) {
  auto p = std::make_unique<pending_dead_letter>(std::move(in), std::move(error), attempts, policy_, backend_.limits());
  if (co_await attempt_dead_letter(*p, std::chrono::milliseconds(0)) == write_outcome::ended) co_return;
  // Held: tried on by a task of its own, so that the caller (a lane, a stream's reader) goes
  // on; the partition is paused meanwhile, which bounds what piles up behind it.
  try {
    held_.spawn(pool_.make_strand(), write_held_dead_letter(std::move(p)), "held dead letter");
  } catch (const boost::system::system_error&) {  // close() began: a broker delivers it again
    stats_.held.subtract();
    stats_.abandoned.add();
  }
}

asio::awaitable<void> dead_letter_writer::write_held_dead_letter(std::unique_ptr<pending_dead_letter> p) {
  co_await attempt_dead_letter(*p, p->next_wait);
}

bool dead_letter_writer::dead_letter_overtaken(pending_dead_letter& p, std::string_view failure) {
  const bool held = p.plan.held();
  if (closing_.load(std::memory_order_acquire)) {  // not written: not committed either, so a broker delivers it again
    if (held) stats_.held.subtract();
    stats_.abandoned.add();
    log().warn("message {} failed with '{}' while the bus closed; not dead-lettered ({})", p.where, p.error,
               failure.empty() ? "close began" : failure);
    return true;
  }
  if (p.in.stale()) {  // its partition moved: the next owner handles it from the start
    if (held) stats_.held.subtract();
    stats_.rebalanced.add();
    p.in.source->released(*p.in.msg);
    log().info("message {} was not dead-lettered here: its partition moved to another consumer", p.where);
    return true;
  }
  return false;
}

asio::awaitable<dead_letter_writer::write_outcome> dead_letter_writer::attempt_dead_letter(
    pending_dead_letter& p, std::chrono::milliseconds wait) {
  const auto& m = *p.in.msg;
  const auto dlq = dead_letter_topic(m.topic);
  for (;;) {
    if (wait.count() > 0) {
      // Cancelled when close() begins (held_) or its grace ends (a lane): then overtaken below.
      asio::steady_timer backoff(co_await asio::this_coro::executor, wait);
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      if (dead_letter_overtaken(p, {})) co_return write_outcome::ended;
    }
    boost::system::error_code code;
    std::string failure;
    std::string cut;
    try {
      auto letter = fit_dead_letter(p.draft, p.plan.value_budget(), p.plan.bare());
      if (const auto* what = find_header(letter.headers, dead_letter_headers::truncated))
        cut = fmt::format(" (cut to fit: {}; value {} of {} bytes, {} of {} original headers)", *what,
                          letter.payload.size(), p.draft.letter.payload.size(),
                          p.plan.bare() ? 0 : p.draft.letter.headers.size(), p.draft.original_headers);
      co_await backend_.write_dead_letter(std::move(letter));
    } catch (const boost::system::system_error& e) {
      code = e.code();
      failure = e.what();
    } catch (const std::exception& e) {
      code = make_error_code(errc::broker_error);
      failure = e.what();
    }
    if (failure.empty()) {
      if (p.plan.held()) stats_.held.subtract();
      stats_.dead_lettered.add();
      if (p.in.source) p.in.source->done(m);
      log().warn("message {} dead-lettered to '{}' after {} attempt(s){}: {}", p.where, dlq, p.attempts, cut, p.error);
      co_return write_outcome::ended;
    }
    if (dead_letter_overtaken(p, failure)) co_return write_outcome::ended;

    const auto step = p.plan.failed(backend_.classify(code), std::chrono::steady_clock::now());
    if (step.give_up) {
      stats_.held.subtract();
      stats_.lost.add();
      if (p.in.source) p.in.source->done(m);
      log().error(
          "message {} is given up after {} failed dead-letter writes (held longer than "
          "dead_letters.give_up_after); it is committed past and counted lost. Last write error: {}; it "
          "failed with: {}",
          p.where, p.plan.failures(), failure, p.error);
      co_return write_outcome::ended;
    }
    if (step.now_held) {
      stats_.held.add();
      if (p.in.source) p.in.source->held(m);
      log().error(
          "message {} is held: its dead letter to '{}' was refused ({}); it is not committed past and is "
          "tried again every {} ms; it failed with: {}",
          p.where, dlq, failure, policy_.max_backoff.count(), p.error);
      p.next_wait = step.wait;
      co_return write_outcome::held;
    }
    if (step.log) {
      if (p.plan.held())
        log().error("message {} is still held after {} failed dead-letter write(s): {}", p.where, p.plan.failures(),
                    failure);
      else
        log().warn("dead letter of message {} failed ({}); trying again in {} ms", p.where, failure, step.wait.count());
    }
    wait = step.wait;
  }
}

}  // namespace corobus::detail
