#include "backends/nats/nats_partitioned_group.hpp"
#include <corobus/runtime/log.hpp>
#include "backends/nats/stream_names.hpp"
#include "core/revoke_sequence.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <random>

namespace corobus::detail {
namespace {

constexpr const char* released_mark = "-";

bool cancelled(const asio::cancellation_state& s) { return s.cancelled() != asio::cancellation_type::none; }

}  // namespace

struct nats_partitioned_group::owned_partition {
  enum class phase { waiting, running, revoking, abandoned };

  owned_partition(int partition, std::string k, std::uint64_t rev, bool was_released,
                  std::unique_ptr<nats_group_consumer> c, const nats::connection::strand_type& strand)
      : p(partition), key(std::move(k)), revision(rev), clean(was_released), consumer(std::move(c)), wake(strand) {}

  const int p;
  const std::string key;
  std::atomic<std::uint64_t> revision;  // written by the blocking pool's calls, one at a time
  const bool clean;                     // taken from a released lease, not an expired one
  phase state = phase::waiting;         // on the strand
  bool pulling = false;
  std::unique_ptr<nats_group_consumer> consumer;
  asio::steady_timer wake;  // own()'s waits
};

struct nats_partitioned_group::look_result {
  std::vector<std::string> members;
  std::vector<std::pair<owned_ptr, std::chrono::steady_clock::time_point>> renewed;  // and when it was sent
  std::vector<owned_ptr> lost;
  std::string error;
};

nats_partitioned_group::nats_partitioned_group(partitioned_group_context context, std::shared_ptr<group_routes> routes,
                                               std::unique_ptr<nats::kv_bucket> bucket, std::string topic,
                                               std::string group, std::string member)
    : ctx_(context),
      routes_(std::move(routes)),
      bucket_(std::move(bucket)),
      topic_(std::move(topic)),
      stream_(jetstream_name(topic_)),
      group_(std::move(group)),
      member_(std::move(member)),
      who_(fmt::format("NATS group '{}' on '{}' (member {})", group_, topic_, member_)),
      timing_(ctx_.cfg.lease_ttl, ctx_.cfg.pull_expires),
      window_(std::max<std::size_t>(1, ctx_.cfg.max_in_flight / static_cast<std::size_t>(ctx_.cfg.partitions))),
      next_look_(ctx_.conn.get_executor()) {}

nats_partitioned_group::~nats_partitioned_group() = default;

std::string nats_partitioned_group::lease_key(int p) const { return fmt::format("{}.p.{}", stream_, p); }
std::string nats_partitioned_group::member_key() const { return fmt::format("{}.m.{}", stream_, member_); }

pull_target nats_partitioned_group::target(int p) const {
  pull_target t;
  t.topic = topic_;
  t.partition = p;
  t.stream = stream_;
  t.durable = partition_durable_name(group_, p);
  t.window = window_;
  const auto n = static_cast<std::size_t>(ctx_.cfg.partitions);
  t.max_held = (ctx_.cfg.max_held + n - 1) / n;  // each partition's share, as of the window
  t.pull_expires = timing_.pull_expires;
  return t;
}

void nats_partitioned_group::wake() {
  asio::post(ctx_.conn.get_executor(), [this, alive = std::weak_ptr<int>(alive_)] {
    if (!alive.expired()) next_look_.cancel();
  });
}

asio::awaitable<void> nats_partitioned_group::coordinate() {
  std::minstd_rand jitter(static_cast<unsigned>(std::hash<std::string>{}(member_)));
  const auto& cancellation = co_await asio::this_coro::cancellation_state;
  for (;;) {
    const bool more = co_await look();
    // Members that started together do not look all at once: +-10%.
    const auto every = timing_.renew_every.count();
    next_look_.expires_after(
        more ? std::chrono::milliseconds(0)
             : std::chrono::milliseconds(every * 9 / 10 + static_cast<long>(jitter() % (every / 5 + 1))));
    co_await next_look_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (cancelled(cancellation)) co_return;
  }
}

std::vector<int> nats_partitioned_group::held() const {
  std::vector<int> out;
  for (const auto& [p, op] : owned_)
    if (op->state != owned_partition::phase::revoking) out.push_back(p);
  return out;
}

std::vector<int> nats_partitioned_group::draining() const {
  std::vector<int> out;
  for (const auto& [p, op] : owned_)
    if (op->state == owned_partition::phase::revoking) out.push_back(p);
  return out;
}

asio::awaitable<bool> nats_partitioned_group::look() {
  const bool here = routes_->any();
  if (!here && !registered_ && owned_.empty()) co_return false;  // not a member here: nothing to renew or take
  std::vector<owned_ptr> renewing;
  for (const auto& [p, op] : owned_) renewing.push_back(op);
  std::function<look_result()> round = [&, here] {
    look_result r;
    if (here)
      bucket_->put(member_key(), "");
    else if (registered_)
      bucket_->erase(member_key());
    const auto prefix = stream_ + ".m.";
    for (auto& k : bucket_->keys(prefix)) r.members.push_back(k.substr(prefix.size()));
    for (const auto& op : renewing) {
      const auto sent = std::chrono::steady_clock::now();
      if (const auto rev = bucket_->update(op->key, member_, op->revision.load())) {
        op->revision = *rev;
        r.renewed.emplace_back(op, sent);
      } else {
        r.lost.push_back(op);
      }
    }
    return r;
  };
  std::optional<look_result> result;
  const auto renewing_since = std::chrono::steady_clock::now();
  try {
    result = co_await call_rethrowing(ctx_.blocking, std::move(round));
  } catch (const std::exception& e) {
    log().warn("{}: membership and leases not renewed: {}", who_, e.what());
  }
  if (result) {
    registered_ = here;
    for (const auto& [op, sent] : result->renewed)
      if (op->state != owned_partition::phase::abandoned) op->consumer->window().set_fence(sent + timing_.fence_after);
    for (const auto& op : result->lost)
      if (const auto it = owned_.find(op->p); it != owned_.end() && it->second == op)
        abandon(op, "another member holds its lease now");
  }
  // Past the fence (renewals failed for a third of the lease's life): given up, whatever
  // the server still says; the next owner waits out the ack wait for what this one held.
  std::vector<owned_ptr> fenced;
  for (const auto& [p, op] : owned_)
    if (op->consumer->window().fenced()) fenced.push_back(op);
  for (const auto& op : fenced) abandon(op, "its lease could not be renewed in time");
  if (!result) co_return false;

  std::vector<int> wanted;
  if (here) {
    auto members = std::move(result->members);
    members.push_back(member_);
    wanted = owned_by(assign_partitions(ctx_.cfg.partitions, std::move(members)), member_);
  }
  const auto moves = plan_moves(wanted, held(), draining());
  for (const int p : moves.revoke) {
    auto& op = owned_[p];
    log().info("{}: partition {} moves to another member; draining it", who_, p);
    op->state = owned_partition::phase::revoking;
    op->consumer->revoke([strand = ctx_.conn.get_executor(), w = std::weak_ptr<owned_partition>(op)] {
      asio::post(strand, [w] {
        if (auto o = w.lock()) o->wake.cancel();
      });
    });
    op->wake.cancel();  // a wait before the first pull ends at once
  }
  for (const int p : moves.acquire) {
    // Each take is a few round trips (a replicated consumer's creation, hundreds of ms): the
    // leases held, the ones just taken among them, are renewed before the rest is taken.
    if (std::chrono::steady_clock::now() - renewing_since > timing_.renew_every) co_return true;
    co_await acquire(p);
  }
  co_return false;
}

asio::awaitable<void> nats_partitioned_group::acquire(int p) {
  struct taken {
    std::uint64_t revision = 0;
    bool clean = false;
    std::chrono::steady_clock::time_point sent;
  };
  auto t = target(p);
  std::function<std::optional<taken>()> attempt = [this, p, t]() -> std::optional<taken> {
    taken got;
    got.sent = std::chrono::steady_clock::now();
    const auto key = lease_key(p);
    const auto entry = bucket_->get(key);
    std::optional<std::uint64_t> rev;
    if (!entry) {
      rev = bucket_->create(key, member_);  // never held, or its owner's lease expired
    } else if (entry->value == released_mark || entry->value == member_) {
      got.clean = entry->value == released_mark;  // our own lease of an earlier, abandoned term is not
      rev = bucket_->update(key, member_, entry->revision);
    }
    if (!rev) return std::nullopt;  // held by another member
    got.revision = *rev;
    nats::consumer_spec spec;
    spec.durable = t.durable;
    spec.filter_subject = fmt::format("{}.{}", topic_, p);
    spec.ack_wait = ctx_.cfg.ack_wait;
    spec.max_ack_pending = t.max_ack_pending();
    ctx_.admin.ensure_consumer(stream_, spec);
    return got;
  };
  std::optional<taken> result;
  try {
    result = co_await call_rethrowing(ctx_.blocking, std::move(attempt));
  } catch (const std::exception& e) {
    log().warn("{}: partition {} not taken: {}", who_, p, e.what());
    co_return;
  }
  if (!result) co_return;  // another member has it: looked at again next time
  const auto& got = *result;
  auto consumer = std::make_unique<nats_group_consumer>(ctx_, routes_, t);
  consumer->window().set_fence(got.sent + timing_.fence_after);
  auto op = std::make_shared<owned_partition>(p, lease_key(p), got.revision, got.clean, std::move(consumer),
                                              ctx_.conn.get_executor());
  owned_[p] = op;
  log().info("{}: partition {} taken ({})", who_, p,
             got.clean ? "released by its last owner" : "not released: new, or its last lease expired");
  ctx_.tasks.spawn(ctx_.conn.get_executor(), own(op),
                   fmt::format("NATS group '{}' on '{}' partition {}", group_, topic_, p));
}

asio::awaitable<void> nats_partitioned_group::keep_alive(owned_ptr op) { co_await op->consumer->keep_alive(); }

asio::awaitable<void> nats_partitioned_group::own(owned_ptr op) {
  const auto& cancellation = co_await asio::this_coro::cancellation_state;
  if (!op->clean) {
    // Its last owner fell silent at its fence, before the lease expired: what it held comes
    // again once its ack wait ran out, and must come before anything newer.
    co_await op->consumer->settle();
    if (cancelled(cancellation)) co_return;
  }
  if (op->state == owned_partition::phase::waiting) {
    op->state = owned_partition::phase::running;
    op->pulling = true;
    ctx_.tasks.spawn(ctx_.conn.get_executor(), keep_alive(op),
                     fmt::format("NATS group '{}' on '{}' partition {} keep-alive", group_, topic_, op->p));
    co_await op->consumer->run();
    if (cancelled(cancellation)) co_return;
  }
  if (op->state == owned_partition::phase::revoking) co_await finish_revoke(op);
}

asio::awaitable<void> nats_partitioned_group::finish_revoke(owned_ptr op) {
  const auto& cancellation = co_await asio::this_coro::cancellation_state;
  auto& window = op->consumer->window();
  const revoke_sequence sequence(std::chrono::steady_clock::now(), ctx_.cfg.revoke_timeout);
  auto step = sequence.decide(window.in_flight(), std::chrono::steady_clock::now(), cancelled(cancellation));
  while (step.then == revoke_sequence::step::next::wait) {
    op->wake.expires_at(step.wait_until);  // each handler that ends wakes it (see look())
    co_await op->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    if (op->state == owned_partition::phase::abandoned) co_return;
    step = sequence.decide(window.in_flight(), std::chrono::steady_clock::now(), cancelled(cancellation));
  }
  if (cancelled(cancellation)) co_return;  // close() gives back and releases
  if (step.interrupt) {
    log().warn(
        "{}: {} handler(s) of partition {} still running after the {} ms revoke timeout "
        "are cancelled; their messages go to the partition's next owner",
        who_, window.in_flight(), op->p, ctx_.cfg.revoke_timeout.count());
    const auto handles = window.open_handles();
    for (const auto& sub : *routes_->current())
      for (const auto* h : handles) sub->interrupt(*h);
  }
  const auto given = op->consumer->give_back();
  op->consumer->stop_keep_alive();
  std::function<std::optional<std::uint64_t>()> release = [this, op] {
    return bucket_->update(op->key, released_mark, op->revision.load());
  };
  std::optional<std::uint64_t> released;
  std::string why = "the lease moved on";
  try {
    released = co_await call_rethrowing(ctx_.blocking, std::move(release));
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (!released)
    log().warn("{}: partition {} not released ({}); its next owner takes it when the lease expires", who_, op->p, why);
  else
    log().info("{}: partition {} released ({} message(s) given back)", who_, op->p, given);
  if (const auto it = owned_.find(op->p); it != owned_.end() && it->second == op) owned_.erase(it);
  next_look_.cancel();
}

void nats_partitioned_group::abandon(const owned_ptr& op, const char* why) {
  log().warn("{}: partition {} given up: {}", who_, op->p, why);
  op->state = owned_partition::phase::abandoned;
  op->consumer->abandon();
  op->wake.cancel();
  owned_.erase(op->p);
}

void nats_partitioned_group::reconnected() {
  for (const auto& [p, op] : owned_)
    if (op->pulling) op->consumer->reconnected();
}

asio::awaitable<void> nats_partitioned_group::drain_pulls() {
  for (const auto& [p, op] : owned_)
    if (op->pulling) co_await op->consumer->drain_pulls();
}

void nats_partitioned_group::give_back() {
  for (const auto& [p, op] : owned_) op->consumer->give_back();
}

void nats_partitioned_group::leave() {
  // The tasks ended: nothing else touches owned_ now.
  try {
    for (const auto& [p, op] : owned_) bucket_->update(op->key, released_mark, op->revision.load());
    if (registered_) bucket_->erase(member_key());
  } catch (const std::exception& e) {
    log().warn("{}: leaving: {}; the others take over when the leases expire", who_, e.what());
  }
}

void nats_partitioned_group::disconnect() noexcept {
  for (const auto& [p, op] : owned_) op->consumer->disconnect();
}

}  // namespace corobus::detail
