#include "backends/kafka/kafka_group_consumer.hpp"
#include <corobus/awaitables/kafka/error.hpp>
#include <corobus/runtime/log.hpp>
#include "core/revoke_wait.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>

namespace corobus::detail {

// One partition as long as this consumer owns it. Each delivered message holds it, so a
// handler that finishes after a revoke updates an orphan, never the next assignment.
struct kafka_group_consumer::assigned_partition final : ack_handle {
  assigned_partition(kafka_group_consumer& g, std::string t, std::int32_t p)
      : group(g), topic(std::move(t)), partition(p) {}

  void done(const message& m) noexcept override {
    if (progress.done(m.offset)) holds_changed();
    ended();
  }
  void released(const message& m) noexcept override {
    if (progress.released(m.offset)) holds_changed();
    ended();
  }
  // A message of this partition ended: it may be what a revoke or a full window waits for.
  void ended() noexcept {
    if (revoked()) group.wake_revoke();
    group.wake_window();
  }
  void held(const message& m) noexcept override {
    progress.held(m.offset);
    holds_changed();
  }
  bool revoked() const noexcept override { return gone.load(std::memory_order_acquire); }

  // Holds begin and end on the dead letters' tasks; pausing is the fetch strand's business.
  // (Only held dead letters, which close() joins before the group goes, end a hold: the
  // group outlives what this posts.)
  void holds_changed() noexcept {
    asio::post(group.strand_, [g = &group] { g->pause_held_partitions(); });
  }

  kafka_group_consumer& group;
  const std::string topic;
  const std::int32_t partition;
  partition_progress progress;
  std::atomic<bool> gone{false};
};

kafka_group_consumer::kafka_group_consumer(backend_context context, const kafka_config& cfg, std::string name,
                                           const kafka::properties& props)
    : context_(context),
      cfg_(cfg),
      name_(std::move(name)),
      strand_(context.pool.make_strand()),
      consumer_(strand_, props),
      routes_(context.handoff, [this](const std::vector<std::string>& topics) { consumer_.subscribe(topics); }),
      window_(cfg.max_in_flight),
      revoke_wake_(strand_),
      window_wake_(strand_) {}

kafka_group_consumer::~kafka_group_consumer() = default;

void kafka_group_consumer::add(std::shared_ptr<subscriber> sub) { routes_.add(std::move(sub)); }

void kafka_group_consumer::remove(const std::shared_ptr<subscriber>& sub) { routes_.remove(sub); }

asio::awaitable<void> kafka_group_consumer::fetch() {
  for (;;) {
    // While paused, only what is ready is taken (rebalances must not wait for handlers).
    // (Not a conditional expression: g++ 12 destroys its co_await temporary twice.)
    kafka::poll_result batch;
    if (state_.window_closed())
      batch = consumer_.try_poll(fetch_window::max_batch);
    else
      batch = co_await consumer_.async_poll(room());
    note_errors(batch.errors);
    // The routes and the partition are looked up once per run of records, not per record;
    // a record waits (deliver) only when its subscription is full.
    // Kept until it is carried out: close may cancel this task before it gets there, and
    // librdkafka waits forever for a rebalance it handed out (async_leave applies it).
    if (batch.rebalance) pending_rebalance_ = batch.rebalance;
    const auto current = routes_.current();
    std::shared_ptr<assigned_partition> source;
    for (auto& r : batch.records) {
      if (!source || source->partition != r.partition() || source->topic != r.topic()) source = partition_of(r);
      auto in = to_incoming(std::move(r), source);
      if (!routes_.try_deliver(*current, in)) co_await routes_.deliver(std::move(in));
    }
    if (batch.rebalance) co_await rebalance(*batch.rebalance);
    co_await make_room();
  }
}

std::shared_ptr<kafka_group_consumer::assigned_partition> kafka_group_consumer::partition_of(const kafka::record& r) {
  auto& slot = assigned_[{std::string(r.topic()), r.partition()}];
  if (!slot) slot = std::make_shared<assigned_partition>(*this, std::string(r.topic()), r.partition());
  return slot;
}

namespace {

// A fetched record and the message made of it, in one allocation. The message has the
// record's topic, key and position; payload and headers are read in place (see incoming_message).
struct kafka_fetched final : fetched_record {
  explicit kafka_fetched(kafka::record&& r) : record(std::move(r)) {
    msg.topic = record.topic();
    msg.key = record.key();
    msg.partition = record.partition();
    msg.offset = record.offset();
  }
  std::string_view payload() const noexcept override { return record.value(); }
  corobus::headers headers() const override { return record.headers<header>(); }

  kafka::record record;
  message msg;
};

}  // namespace

incoming_message kafka_group_consumer::to_incoming(kafka::record&& r, std::shared_ptr<assigned_partition> source) {
  source->progress.started(r.offset());
  auto fetched = std::make_shared<kafka_fetched>(std::move(r));
  std::shared_ptr<const message> msg(fetched, &fetched->msg);
  incoming_message in(std::move(msg), nullptr, std::move(source));
  in.fetched = std::move(fetched);
  return in;
}

namespace {

bool rebalance_in_progress(const boost::system::error_code& e) {
  return e == kafka::make_error_code(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
}

assignment_state::partition_id id_of(const kafka::topic_partition& tp) { return {tp.topic, tp.partition}; }

std::vector<kafka::topic_partition> to_kafka(const std::vector<assignment_state::partition_id>& ids) {
  std::vector<kafka::topic_partition> parts;
  for (const auto& p : ids) parts.push_back({p.topic, p.partition});
  return parts;
}

}  // namespace

void kafka_group_consumer::note_errors(const std::vector<boost::system::error_code>& errors) {
  for (const auto& e : errors)
    if (rebalance_in_progress(e)) state_.rebalance_announced(std::chrono::steady_clock::now());
}

void kafka_group_consumer::note_commit_results() {
  // Answers for partitions revoked since are for orphans: nothing here counts them any more.
  const auto each = [this](const std::vector<kafka::topic_partition>& parts, auto&& f) {
    for (const auto& tp : parts)
      if (const auto it = assigned_.find({tp.topic, tp.partition}); it != assigned_.end())
        f(it->second->progress, tp.offset);
  };
  for (const auto& c : consumer_.take_commit_results()) {
    each(c.stored, [](partition_progress& p, std::int64_t position) { p.stored(position); });
    each(c.refused, [](partition_progress& p, std::int64_t position) { p.refused(position); });
    if (rebalance_in_progress(c.error)) state_.commit_refused_for_rebalance(c.tag, std::chrono::steady_clock::now());
  }
}

asio::awaitable<void> kafka_group_consumer::rebalance(const kafka::rebalance& r) {
  if (r.assign) {
    std::vector<assignment_state::partition_id> ids;
    for (const auto& tp : r.partitions) ids.push_back(id_of(tp));
    const auto actions = state_.assigned(ids);
    kafka::rebalance assignment{.assign = true, .partitions = {}};
    for (const auto& [id, offset] : actions.start) {
      auto& tp = assignment.partitions.emplace_back(kafka::topic_partition{id.topic, id.partition});
      auto p = std::make_shared<assigned_partition>(*this, id.topic, id.partition);
      if (offset) {  // where its work here ended: everything below it was handled here
        tp.offset = *offset;
        p->progress.resume_at(*offset);  // committed in this generation
      }
      assigned_[{id.topic, id.partition}] = std::move(p);
    }
    pending_rebalance_.reset();
    consumer_.apply_rebalance(assignment);
    log().info("kafka group '{}': {} partition(s) assigned", name_, r.partitions.size());
    carry_out(actions);  // paused at once while the window is closed
    co_return;
  }
  // Revoked: queued messages of these partitions are now stale and are dropped where they
  // wait; the running handlers get revoke_timeout to finish. Then the positions are
  // committed, and only then is the revoke completed.
  std::vector<std::shared_ptr<assigned_partition>> revoked;
  for (const auto& tp : r.partitions) {
    auto it = assigned_.find({tp.topic, tp.partition});
    if (it == assigned_.end()) continue;
    it->second->gone.store(true, std::memory_order_release);
    revoked.push_back(std::move(it->second));
    assigned_.erase(it);
  }
  // A std::function named before the co_await: g++ 12 destroys a co_await's temporaries twice.
  const std::function<std::size_t()> running = [&revoked] {
    std::size_t n = 0;
    for (const auto& p : revoked) n += p->progress.in_flight();
    return n;
  };
  // Each handler of a revoked partition that ends wakes this wait (wake_revoke).
  const std::function<bool()> never_gone;  // librdkafka takes nothing back during a revoke
  if (co_await wait_for_revoked_handlers(revoke_wake_, cfg_.revoke_timeout, running, never_gone)) {
    log().warn(
        "kafka group '{}': {} handler(s) still running after the {} ms revoke timeout are cancelled; "
        "their messages will be delivered again by the partitions' next owner",
        name_, running(), cfg_.revoke_timeout.count());
    for (const auto& p : revoked)
      if (p->progress.in_flight() != 0) routes_.interrupt(p->topic, {p.get()});
  }
  commit(revoked);
  std::vector<assignment_state::start_position> positions;
  for (const auto& p : revoked) positions.push_back({{p->topic, p->partition}, p->progress.position()});
  carry_out(state_.revoked(positions));  // resumes what was paused (see assignment_state)
  pending_rebalance_.reset();
  consumer_.apply_rebalance(r);
  log().info("kafka group '{}': {} partition(s) revoked", name_, r.partitions.size());
}

void kafka_group_consumer::carry_out(const assignment_state::actions& actions) {
  if (!actions.pause.empty()) consumer_.pause(to_kafka(actions.pause));
  if (!actions.resume.empty()) consumer_.resume(to_kafka(actions.resume));
}

std::size_t kafka_group_consumer::uncommitted() const {
  // A partition with a held message is paused and cannot commit past it: what it took stays
  // uncommitted until the hold ends, and must not close the window of the other partitions.
  std::size_t n = 0;
  for (const auto& [key, p] : assigned_)
    if (p->progress.held_count() == 0) n += p->progress.uncommitted();
  return n;
}

void kafka_group_consumer::wake_window() noexcept {
  // A plain load first: every handled message passes here, and only a waiting window (rare)
  // needs the exchange and the post. Paired with the store in make_room (see there).
  if (window_waiting_.load() && window_waiting_.exchange(false))
    asio::post(strand_, [g = this] { g->window_wake_.cancel(); });
}

void kafka_group_consumer::wake_revoke() noexcept {
  // From handler threads, only for revoked partitions (rare); the group outlives them: close()
  // joins every handler before the group goes.
  asio::post(strand_, [g = this] { g->revoke_wake_.cancel(); });
}

void kafka_group_consumer::pause_held_partitions() {
  for (const auto& [key, p] : assigned_) {
    const assignment_state::partition_id id{key.first, key.second};
    const auto held = p->progress.held_count();
    if (!state_.owns(id) || (held != 0) == state_.holds(id)) continue;
    carry_out(state_.holding(id, held != 0));
    if (held != 0)
      log().warn("kafka group '{}': '{}' [{}] paused: {} message(s) held (their dead letters are refused)", name_,
                 key.first, key.second, held);
    else
      log().info("kafka group '{}': '{}' [{}] resumed: nothing held any more", name_, key.first, key.second);
  }
  window_wake_.cancel();  // what the window counts changed (a holding partition is not counted)
}

std::size_t kafka_group_consumer::room() const { return window_.room(uncommitted()); }

asio::awaitable<void> kafka_group_consumer::make_room() {
  const auto since = std::chrono::steady_clock::now();
  for (;;) {
    // Set before looking: whatever changes from now on (a handler ends, a hold begins or
    // ends) wakes the wait below, and what changed before is seen by the look.
    window_waiting_.store(true);
    note_commit_results();
    const auto now = std::chrono::steady_clock::now();
    fetch_window::view v;
    v.uncommitted = uncommitted();
    v.paused = state_.window_closed();
    const auto pending_since = state_.rebalance_pending_since();
    v.rebalance_pending = pending_since.has_value();
    if (pending_since) v.pending_for = now - *pending_since;
    v.waited = now - since;
    const auto plan = window_.decide(v);
    if (plan.forget_rebalance) state_.forget_rebalance();  // a stale refusal
    if (plan.commit) commit_all();
    switch (plan.then) {
      case fetch_window::plan::next::fetch: window_waiting_.store(false); co_return;
      case fetch_window::plan::next::pause:
        window_waiting_.store(false);
        carry_out(state_.window_full());
        log().debug("kafka group '{}': {} messages not yet committed, fetching paused", name_, v.uncommitted);
        co_return;
      case fetch_window::plan::next::resume:
        window_waiting_.store(false);
        carry_out(state_.window_open());
        log().debug("kafka group '{}': fetching resumed", name_);
        co_return;
      case fetch_window::plan::next::wait:
        co_await wait_for_change(plan.wait_at_most);
        if (state_.window_closed()) co_return;  // the fetch loop looks for a rebalance
    }
  }
}

asio::awaitable<void> kafka_group_consumer::wait_for_change(fetch_window::duration at_most) {
  using namespace asio::experimental::awaitable_operators;
  if (at_most == fetch_window::duration::max())
    window_wake_.expires_at(asio::steady_timer::time_point::max());
  else
    window_wake_.expires_after(at_most);
  // Woken by an event of the consumer (a record, a rebalance, a commit's answer: see
  // kafka::consumer::async_wait), by wake_window() (which cancels the timer), or at the plan's
  // deadline.
  co_await (consumer_.async_wait() || window_wake_.async_wait(asio::as_tuple(asio::use_awaitable)));
  window_waiting_.store(false);
}

void kafka_group_consumer::commit(const std::vector<std::shared_ptr<assigned_partition>>& partitions) {
  std::vector<kafka::topic_partition> positions;
  std::vector<assigned_partition*> moved;
  for (const auto& p : partitions)
    if (const auto position = p->progress.take_commit_position()) {
      positions.push_back({p->topic, p->partition, *position});
      moved.push_back(p.get());
    }
  try {
    consumer_.commit(positions,
                     static_cast<std::uintptr_t>(state_.generation()));  // the broker's answer: note_commit_results()
  } catch (const boost::system::system_error& e) {  // refused at once: the next commit offers them again
    log().warn("kafka group '{}': {}", name_, e.what());
    for (std::size_t i = 0; i < moved.size(); ++i) moved[i]->progress.refused(positions[i].offset);
  }
}

void kafka_group_consumer::commit_all() {
  std::vector<std::shared_ptr<assigned_partition>> all;
  for (const auto& [key, p] : assigned_) all.push_back(p);
  commit(all);
}

asio::awaitable<void> kafka_group_consumer::commit_periodically() {
  asio::steady_timer timer(strand_);
  for (;;) {
    timer.expires_after(cfg_.commit_interval);
    co_await timer.async_wait(asio::use_awaitable);
    commit_all();
  }
}

asio::awaitable<void> kafka_group_consumer::async_leave() {
  commit_all();  // librdkafka waits for outstanding commits before it leaves the group
  if (pending_rebalance_) consumer_.apply_rebalance(*std::exchange(pending_rebalance_, std::nullopt));
  assigned_.clear();
  co_await consumer_.async_close();
}

}  // namespace corobus::detail
