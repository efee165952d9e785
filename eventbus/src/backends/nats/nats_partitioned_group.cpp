#include "backends/nats/nats_partitioned_group.hpp"
#include <corobus/runtime/log.hpp>
#include "backends/nats/stream_names.hpp"
#include "core/revoke_wait.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <random>

namespace corobus::detail {
namespace {

bool cancelled(const asio::cancellation_state& s) { return s.cancelled() != asio::cancellation_type::none; }

}  // namespace

// What runs one owned partition here: its consumer and the wait of its run (the lease itself
// is the lease state's).
struct nats_partitioned_group::partition_run {
  partition_run(lease_state::lease l, bool settles, std::unique_ptr<nats_group_consumer> c,
                const nats::connection::strand_type& strand)
      : lease(l), settles_first(settles), consumer(std::move(c)), wake(strand) {}

  const lease_state::lease lease;  // names this ownership (its term) in the lease state
  // Taken from an expired lease, not a released one: what its last owner held comes again
  // one ack wait after that owner's fence, and must come before anything newer.
  const bool settles_first;
  bool pulling = false;
  std::unique_ptr<nats_group_consumer> consumer;
  asio::steady_timer wake;  // run_partition()'s waits
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
      log_name_(fmt::format("NATS group '{}' on '{}' (member {})", group_, topic_, member)),
      timing_(ctx_.cfg.lease_ttl, ctx_.cfg.pull_expires),
      window_(std::max<std::size_t>(1, ctx_.cfg.max_in_flight / static_cast<std::size_t>(ctx_.cfg.partitions))),
      next_review_(ctx_.conn.get_executor()),
      leases_(std::move(member), ctx_.cfg.partitions, timing_) {}

nats_partitioned_group::~nats_partitioned_group() = default;

std::string nats_partitioned_group::lease_key(int partition) const {
  return fmt::format("{}.p.{}", stream_, partition);
}
std::string nats_partitioned_group::member_key() const { return fmt::format("{}.m.{}", stream_, leases_.member()); }

pull_target nats_partitioned_group::target(int partition) const {
  pull_target t;
  t.topic = topic_;
  t.partition = partition;
  t.stream = stream_;
  t.durable = partition_durable_name(group_, partition);
  t.window = window_;
  const auto n = static_cast<std::size_t>(ctx_.cfg.partitions);
  t.max_held = (ctx_.cfg.max_held + n - 1) / n;  // each partition's share, as of the window
  t.pull_expires = timing_.pull_expires;
  return t;
}

void nats_partitioned_group::wake() {
  asio::post(ctx_.conn.get_executor(), [this, alive = std::weak_ptr<int>(lifetime_)] {
    if (!alive.expired()) next_review_.cancel();
  });
}

asio::awaitable<void> nats_partitioned_group::coordinate() {
  std::minstd_rand jitter(static_cast<unsigned>(std::hash<std::string>{}(leases_.member())));
  const auto& cancellation = co_await asio::this_coro::cancellation_state;
  for (;;) {
    const bool more = co_await review_leases();
    // Members that started together do not review all at once: +-10%.
    const auto every = timing_.renew_every.count();
    next_review_.expires_after(
        more ? std::chrono::milliseconds(0)
             : std::chrono::milliseconds(every * 9 / 10 + static_cast<long>(jitter() % (every / 5 + 1))));
    co_await next_review_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (cancelled(cancellation)) co_return;
  }
}

asio::awaitable<bool> nats_partitioned_group::review_leases() {
  const bool subscribed_here = routes_->any();
  if (!subscribed_here && !leases_.registered() && leases_.leases().empty())
    co_return false;  // not a member here: nothing to renew or take
  const auto membership = leases_.look_started(subscribed_here);
  const auto renewing = leases_.to_renew();
  std::function<lease_state::round()> round_trip = [&] {
    lease_state::round r;
    if (membership == lease_state::membership::write)
      bucket_->put(member_key(), "");
    else if (membership == lease_state::membership::erase)
      bucket_->erase(member_key());
    const auto prefix = stream_ + ".m.";
    for (auto& k : bucket_->keys(prefix))
      if (auto name = k.substr(prefix.size()); name != leases_.member()) r.members.push_back(std::move(name));
    for (auto lease : renewing) {
      const auto sent = std::chrono::steady_clock::now();
      if (const auto revision = bucket_->update(lease_key(lease.partition), leases_.member(), lease.revision)) {
        lease.revision = *revision;
        r.renewed.emplace_back(lease, sent);
      } else {
        r.lost.push_back(lease);
      }
    }
    return r;
  };
  std::optional<lease_state::round> answers;
  const auto renewing_since = std::chrono::steady_clock::now();
  try {
    answers = co_await call_rethrowing(ctx_.blocking, std::move(round_trip));
  } catch (const std::exception& e) {
    log().warn("{}: membership and leases not renewed: {}", log_name_, e.what());
  }
  const auto plan = leases_.looked(answers, subscribed_here, std::chrono::steady_clock::now());
  for (const auto& [partition, fence] : plan.fences)
    if (const auto it = running_.find(partition); it != running_.end()) it->second->consumer->window().set_fence(fence);
  for (const auto& [partition, why] : plan.abandon) abandon(partition, why);
  for (const auto& lease : plan.release) co_await release(lease, 0);
  for (const int partition : plan.revoke) {
    const auto& run = running_.at(partition);
    log().info("{}: partition {} moves to another member; draining it", log_name_, partition);
    run->consumer->revoke([strand = ctx_.conn.get_executor(), w = std::weak_ptr<partition_run>(run)] {
      asio::post(strand, [w] {
        if (auto r = w.lock()) r->wake.cancel();
      });
    });
    run->wake.cancel();  // a wait before the first pull ends at once
  }
  for (const int partition : plan.take) {
    // Each take is a few round trips (a replicated consumer's creation, hundreds of ms): the
    // leases held, the ones just taken among them, are renewed before the rest is taken.
    if (std::chrono::steady_clock::now() - renewing_since > timing_.renew_every) co_return true;
    co_await take(partition);
  }
  co_return false;
}

asio::awaitable<void> nats_partitioned_group::take(int partition) {
  struct taken {
    std::uint64_t revision = 0;
    bool clean = false;
    std::chrono::steady_clock::time_point sent;
  };
  auto t = target(partition);
  std::function<std::optional<taken>()> attempt = [this, partition, t]() -> std::optional<taken> {
    taken got;
    got.sent = std::chrono::steady_clock::now();
    const auto key = lease_key(partition);
    const auto entry = bucket_->get(key);
    const auto how = leases_.take(entry ? std::optional(entry->value) : std::nullopt);  // reads no state
    std::optional<std::uint64_t> revision;
    if (how.how == lease_state::take_by::create)
      revision = bucket_->create(key, leases_.member());
    else if (how.how == lease_state::take_by::update)
      revision = bucket_->update(key, leases_.member(), entry->revision);
    if (!revision) return std::nullopt;  // held by another member
    got.revision = *revision;
    got.clean = how.clean;
    nats::consumer_spec spec;
    spec.durable = t.durable;
    spec.filter_subject = fmt::format("{}.{}", topic_, partition);
    spec.ack_wait = ctx_.cfg.ack_wait;
    spec.max_ack_pending = t.max_ack_pending();
    ctx_.admin.ensure_consumer(stream_, spec);
    return got;
  };
  std::optional<taken> result;
  try {
    result = co_await call_rethrowing(ctx_.blocking, std::move(attempt));
  } catch (const std::exception& e) {
    log().warn("{}: partition {} not taken: {}", log_name_, partition, e.what());
    co_return;
  }
  if (!result) co_return;  // another member has it: looked at again next time
  const auto& got = *result;
  const auto lease = leases_.taken(partition, got.revision, got.sent);
  auto consumer = std::make_unique<nats_group_consumer>(ctx_, routes_, t);
  consumer->window().set_fence(leases_.fence_of(partition));
  auto run = std::make_shared<partition_run>(lease, !got.clean, std::move(consumer), ctx_.conn.get_executor());
  running_[partition] = run;
  log().info("{}: partition {} taken ({})", log_name_, partition,
             got.clean ? "released by its last owner" : "not released: new, or its last lease expired");
  ctx_.tasks.spawn(ctx_.conn.get_executor(), run_partition(run),
                   fmt::format("NATS group '{}' on '{}' partition {}", group_, topic_, partition));
}

asio::awaitable<void> nats_partitioned_group::keep_alive(run_ptr run) { co_await run->consumer->keep_alive(); }

asio::awaitable<void> nats_partitioned_group::run_partition(run_ptr run) {
  const auto& cancellation = co_await asio::this_coro::cancellation_state;
  if (run->settles_first) {
    co_await run->consumer->settle();
    if (cancelled(cancellation)) co_return;
  }
  if (leases_.start(run->lease)) {
    run->pulling = true;
    ctx_.tasks.spawn(
        ctx_.conn.get_executor(), keep_alive(run),
        fmt::format("NATS group '{}' on '{}' partition {} keep-alive", group_, topic_, run->lease.partition));
    co_await run->consumer->run();
    if (cancelled(cancellation)) co_return;
  }
  if (leases_.phase_of(run->lease) == lease_state::phase::revoking) co_await finish_revoke(run);
}

asio::awaitable<void> nats_partitioned_group::finish_revoke(run_ptr run) {
  const auto& cancellation = co_await asio::this_coro::cancellation_state;
  const int partition = run->lease.partition;
  auto& window = run->consumer->window();
  // Each handler that ends wakes run->wake (see review_leases()). Named before the co_await:
  // g++ 12 destroys a co_await's temporaries twice.
  std::function<std::size_t()> running = [&window] { return window.in_flight(); };
  std::function<bool()> gone = [this, lease = run->lease] { return !leases_.phase_of(lease); };
  const bool interrupt =
      co_await wait_for_revoked_handlers(run->wake, ctx_.cfg.revoke_timeout, std::move(running), std::move(gone));
  if (!leases_.phase_of(run->lease)) co_return;  // abandoned meanwhile
  if (cancelled(cancellation)) co_return;        // close() gives back and releases
  if (interrupt) {
    log().warn(
        "{}: {} handler(s) of partition {} still running after the {} ms revoke timeout "
        "are cancelled; their messages go to the partition's next owner",
        log_name_, window.in_flight(), partition, ctx_.cfg.revoke_timeout.count());
    routes_->interrupt(topic_, window.open_handles());
  }
  const auto given = run->consumer->give_back();
  run->consumer->stop_keep_alive();
  if (const auto it = running_.find(partition); it != running_.end() && it->second == run) running_.erase(it);
  if (const auto lease = leases_.revoke_finished(run->lease)) co_await release(*lease, given);
  next_review_.cancel();
}

asio::awaitable<void> nats_partitioned_group::release(lease_state::lease lease, std::size_t given_back) {
  std::function<std::optional<std::uint64_t>()> write = [this, lease] {
    return bucket_->update(lease_key(lease.partition), std::string(lease_state::released_mark), lease.revision);
  };
  std::optional<std::uint64_t> released;
  std::string why = "the lease moved on";
  try {
    released = co_await call_rethrowing(ctx_.blocking, std::move(write));
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (!released)
    log().warn("{}: partition {} not released ({}); its next owner takes it when the lease expires", log_name_,
               lease.partition, why);
  else
    log().info("{}: partition {} released ({} message(s) given back)", log_name_, lease.partition, given_back);
}

void nats_partitioned_group::abandon(int partition, std::string_view why) {
  log().warn("{}: partition {} given up: {}", log_name_, partition, why);
  const auto it = running_.find(partition);
  if (it == running_.end()) return;
  it->second->consumer->abandon();
  it->second->wake.cancel();
  running_.erase(it);
}

void nats_partitioned_group::reconnected() {
  for (const auto& [partition, run] : running_)
    if (run->pulling) run->consumer->reconnected();
}

asio::awaitable<void> nats_partitioned_group::drain_pulls() {
  for (const auto& [partition, run] : running_)
    if (run->pulling) co_await run->consumer->drain_pulls();
}

void nats_partitioned_group::give_back() {
  for (const auto& [partition, run] : running_) run->consumer->give_back();
}

void nats_partitioned_group::leave() {
  // The tasks ended: nothing else touches the lease state now.
  try {
    for (const auto& lease : leases_.leases())
      bucket_->update(lease_key(lease.partition), std::string(lease_state::released_mark), lease.revision);
    if (leases_.registered()) bucket_->erase(member_key());
  } catch (const std::exception& e) {
    log().warn("{}: leaving: {}; the others take over when the leases expire", log_name_, e.what());
  }
}

void nats_partitioned_group::disconnect() noexcept {
  for (const auto& [partition, run] : running_) run->consumer->disconnect();
}

}  // namespace corobus::detail
