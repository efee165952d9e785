#include "backends/nats/nats_backend.hpp"
#include <corobus/awaitables/nats/error.hpp>
#include <corobus/eventbus/topic.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/log.hpp>
#include "backends/nats/stream_names.hpp"
#include "envelope/envelope_encoding.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>

#include <unistd.h>

#include <cctype>
#include <future>
#include <random>

namespace corobus::detail {
namespace {

nats::connect_options connect_options_of(const nats_config& cfg, const std::string& url) {
  nats::connect_options o(url);
  o.timeout = cfg.connect_timeout;
  o.allow_reconnect = cfg.max_reconnects != 0;
  o.max_reconnect = cfg.max_reconnects;
  o.reconnect_wait = cfg.reconnect_wait;
  o.security = cfg.security;
  return o;
}

// `said`: the server's or cnats's description (pub_ack::error), when there is one.
[[noreturn]] void throw_publish_error(const boost::system::error_code& ec, std::string_view said,
                                      std::string_view topic, std::chrono::milliseconds timeout) {
  if (ec == nats::make_error_code(NATS_TIMEOUT))
    throw boost::system::system_error(
        ec, fmt::format("publishing to '{}': no answer from its stream within {} ms", topic, timeout.count()));
  if (!said.empty()) throw boost::system::system_error(ec, fmt::format("publishing to '{}': {}", topic, said));
  throw boost::system::system_error(ec, fmt::format("publishing to '{}'", topic));
}

nats::outgoing_message to_outgoing(std::string topic, envelope& env) {
  nats::outgoing_message m(std::move(topic), detail::encode_validated(env));
  m.headers.reserve(8);
  for_each_metadata_header(env, [&m](std::string_view name, std::string_view value) {
    m.headers.push_back({std::string(name), std::string(value)});
  });
  m.msg_id = std::move(env.event_id);  // stored once within the stream's duplicate window
  return m;
}

// This bus's name in partitioned groups: host, process and a random part (a key token).
std::string member_name() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string name;
  for (const char c : std::string_view(host))
    name.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
  return fmt::format("{}-{}-{:08x}", name.empty() ? "host" : name, ::getpid(), std::random_device{}());
}

}  // namespace

nats_backend::nats_backend(backend_context context, const nats_config& cfg)
    : context_(context),
      cfg_(cfg),
      strand_(asio::make_strand(asio::any_io_executor(context.pool.get_executor()))),
      member_(member_name()) {
  std::string url = cfg_.url;
  if (url == "embedded") {
    server_ = std::make_unique<nats::embedded_server>();
    url = server_->url();
  }
  try {
    conn_ = std::make_unique<nats::connection>(
        *strand_, connect_options_of(cfg_, url),
        [this] {
          if (replies_) replies_->drain();
        },
        [this] { reconnected(); });
  } catch (const boost::system::system_error& e) {
    throw_error(errc::broker_error, e.what());
  }
  on_strand([this] { replies_ = std::make_unique<nats::reply_router>(*conn_); });
  publisher_ = std::make_unique<nats::jetstream_publisher>(*conn_, *replies_);
  admin_ = std::make_unique<nats::jetstream_admin>(*conn_, cfg_.publish_timeout);
  max_payload_ = conn_->max_payload();
}

nats_backend::~nats_backend() = default;

template <class F>
void nats_backend::on_strand(F f) {
  std::promise<void> done;
  asio::post(*strand_, [&] {
    try {
      f();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  done.get_future().get();
}

bool nats_backend::partitioned(std::string_view topic) const {
  return cfg_.partitions > 0 && !topic.ends_with(dead_letter_topic(""));
}

std::pair<std::string, std::int32_t> nats_backend::subject_for(const std::string& topic, std::string_view key) {
  if (!partitioned(topic)) return {topic, 0};
  const auto p = key.empty() ? static_cast<int>(spread_.fetch_add(1, std::memory_order_relaxed) % cfg_.partitions)
                             : partition_of(key, cfg_.partitions);
  return {fmt::format("{}.{}", topic, p), p};
}

nats::stream_spec nats_backend::stream_for(const std::string& topic) const {
  nats::stream_spec s;
  s.name = jetstream_name(topic);
  if (partitioned(topic)) {
    for (int p = 0; p < cfg_.partitions; ++p) s.subjects.push_back(fmt::format("{}.{}", topic, p));
    s.exact_subjects = true;
  } else {
    s.subjects = {topic};
  }
  s.storage = cfg_.storage == nats_storage::memory ? js_MemoryStorage : js_FileStorage;
  s.retention = cfg_.retention == nats_retention::interest     ? js_InterestPolicy
                : cfg_.retention == nats_retention::work_queue ? js_WorkQueuePolicy
                                                               : js_LimitsPolicy;
  s.replicas = cfg_.replicas;
  s.max_age = cfg_.max_age;
  s.max_bytes = cfg_.max_bytes;
  s.duplicate_window = cfg_.duplicate_window;
  return s;
}

asio::awaitable<void> nats_backend::manage(std::function<void()> call) {
  co_await call_rethrowing(blocking_, std::move(call));
}

bool nats_backend::stream_ready(std::string_view topic) {
  std::shared_lock lock(streams_mutex_);
  return ready_streams_.contains(topic);
}

asio::awaitable<void> nats_backend::ensure_stream(std::string topic) {
  if (stream_ready(topic)) co_return;
  // Named, not a temporary of the co_await expression: g++ 12 destroys such a lambda twice.
  std::function<void()> check = [this, topic, spec = stream_for(topic)] {
    // A topic's first publishes, a thousand at once, each queue a check on the one blocking
    // thread: the first makes the stream, the others find it ready instead of asking the
    // server again (a thousand stream lookups held the last of those publishes 27 s back).
    if (stream_ready(topic)) return;
    admin_->ensure_stream(spec, cfg_.topics);
    std::lock_guard lock(streams_mutex_);
    ready_streams_.insert(topic);
  };
  co_await manage(std::move(check));
}

asio::awaitable<publish_result> nats_backend::send(nats::outgoing_message m, std::string topic,
                                                   std::int32_t partition) {
  const auto use = uses_.enter("the NATS connection");
  // A publish to a subject no stream stores would only time out (cnats hides the 503): the
  // stream is checked (or made) first, once.
  if (!stream_ready(topic)) co_await ensure_stream(topic);
  auto outcome =
      co_await publisher_->async_publish(std::move(m), cfg_.publish_timeout, asio::as_tuple(asio::use_awaitable));
  auto& [ec, ack] = outcome;
  if (ec) throw_publish_error(ec, ack.error, topic, cfg_.publish_timeout);
  co_return publish_result{std::move(topic), partition, static_cast<std::int64_t>(ack.sequence)};
}

asio::awaitable<publish_result> nats_backend::publish(message msg) {
  auto [subject, partition] = subject_for(msg.topic, msg.key);
  nats::outgoing_message m(std::move(subject), std::move(msg.payload));
  m.headers = std::move(msg.headers);
  if (!msg.key.empty()) m.headers.push_back({key_header, std::move(msg.key)});
  return send(std::move(m), std::move(msg.topic), partition);
}

asio::awaitable<publish_result> nats_backend::publish_envelope(std::string topic, envelope env) {
  auto [subject, partition] = subject_for(topic, env.aggregate_id);
  auto m = to_outgoing(std::move(subject), env);
  return send(std::move(m), std::move(topic), partition);
}

asio::awaitable<std::vector<publish_result>> nats_backend::publish_envelopes(std::string topic,
                                                                             std::vector<envelope> batch) {
  if (batch.empty()) co_return std::vector<publish_result>{};  // a parallel group of none never completes
  const auto use = uses_.enter("the NATS connection");
  if (!stream_ready(topic)) co_await ensure_stream(topic);
  using op_type = decltype(publisher_->async_publish(std::declval<nats::outgoing_message>(),
                                                     std::chrono::milliseconds(), asio::deferred));
  std::vector<op_type> ops;
  ops.reserve(batch.size());
  std::vector<std::int32_t> partitions;
  partitions.reserve(batch.size());
  // Sent in order (each publish is dispatched to the strand as it is made); answered each on its own.
  for (auto& env : batch) {
    auto [subject, partition] = subject_for(topic, env.aggregate_id);
    partitions.push_back(partition);
    ops.push_back(
        publisher_->async_publish(to_outgoing(std::move(subject), env), cfg_.publish_timeout, asio::deferred));
  }
  auto [order, errors, acks] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                   .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  std::vector<publish_result> results(acks.size());
  for (std::size_t i = 0; i < acks.size(); ++i) {
    if (errors[i]) throw_publish_error(errors[i], acks[i].error, topic, cfg_.publish_timeout);
    results[i] = publish_result{topic, partitions[i], static_cast<std::int64_t>(acks[i].sequence)};
  }
  co_return results;
}

record_limits nats_backend::limits() const {
  record_limits l;
  l.max_record_bytes = max_payload_;  // the header block and the payload together
  // The server refuses a JetStream publish whose header block is longer (JetStream error
  // 10097), though a plain publish's may be: a record another producer wrote can be at it.
  l.max_header_bytes = 65535;
  l.header_block_overhead = 12;  // cnats writes "NATS/1.0\r\n", then "name: value\r\n" each, then "\r\n"
  l.header_overhead = 4;
  l.key_header = key_header;
  l.control_header_prefix = "Nats-";  // Nats-Expected-*, Nats-Rollup, Nats-Msg-Id, Nats-TTL ...
  return l;
}

write_failure nats_backend::classify(const boost::system::error_code& ec) const {
  if (ec.category() == nats::error_category()) {
    switch (static_cast<natsStatus>(ec.value())) {
      case NATS_MAX_PAYLOAD: return write_failure::too_large;
      // No answer in time, or the connection is down and reconnecting: the same write may
      // well succeed later (its Nats-Msg-Id keeps a repeat from being stored twice).
      case NATS_TIMEOUT:
      case NATS_NO_SERVER:
      case NATS_IO_ERROR:
      case NATS_STALE_CONNECTION:
      case NATS_CONNECTION_DISCONNECTED:
      case NATS_NO_RESPONDERS:
      case NATS_SLOW_CONSUMER: return write_failure::transient;
      default: return write_failure::refused;
    }
  }
  if (ec.category() == nats::jetstream_category()) {
    switch (ec.value()) {
      case 10047:  // insufficient resources
      // nats-server 2.11 and later: a repeat of a Nats-Msg-Id whose first publish a replicated
      // stream is still agreeing on (the next try gets duplicate: true), and a stream whose
      // queue of incoming publishes is full.
      case 10158:
      case 10167: return write_failure::transient;
      default: break;
    }
  }
  return write_failure::refused;  // a stream refused it, a missing stream (validate only), ...
}

consumer_context nats_backend::context_for_consumers() {
  return {context_, cfg_, *conn_, *replies_, blocking_, *admin_};
}

nats_backend::group_entry& nats_backend::group(const std::string& topic, const std::string& name,
                                               std::unique_ptr<nats::kv_bucket> bucket) {
  std::lock_guard lock(groups_mutex_);
  if (consumers_.cancelled()) throw_error(errc::closed, "subscribe: the bus is closed");
  auto& g = groups_[{topic, name}];
  if (g.single || g.partitioned) return g;
  g.routes = std::make_shared<group_routes>(context_.handoff);
  if (bucket) {
    const partitioned_group_context ctx{context_for_consumers(), consumers_};
    g.partitioned = std::make_unique<nats_partitioned_group>(ctx, g.routes, std::move(bucket), topic, name, member_);
    consumers_.spawn(*strand_, g.partitioned->coordinate(), fmt::format("NATS group '{}' on '{}' leases", name, topic));
    return g;
  }
  pull_target t;
  t.topic = topic;
  t.stream = jetstream_name(topic);
  t.durable = jetstream_name(name);
  t.window = cfg_.max_in_flight;
  t.max_held = cfg_.max_held;
  t.pull_expires = cfg_.pull_expires;
  g.single = std::make_unique<nats_group_consumer>(context_for_consumers(), g.routes, std::move(t));
  consumers_.spawn(*strand_, g.single->run(), fmt::format("NATS group '{}' on '{}' pulls", name, topic));
  consumers_.spawn(*strand_, g.single->keep_alive(), fmt::format("NATS group '{}' on '{}' keep-alive", name, topic));
  return g;
}

asio::awaitable<void> nats_backend::attach_partitioned(const std::shared_ptr<subscriber>& sub) {
  std::unique_ptr<nats::kv_bucket> bucket;
  bool known = false;
  {
    std::lock_guard lock(groups_mutex_);
    known = groups_.contains({sub->topic(), sub->group()});
  }
  if (!known) {  // the group's first subscription here opens its bucket
    nats::kv_bucket_spec spec;
    spec.name = group_bucket_name(sub->group());
    spec.ttl = cfg_.lease_ttl;
    spec.replicas = cfg_.replicas;
    std::function<void()> open = [this, &bucket, spec] {
      bucket = std::make_unique<nats::kv_bucket>(*conn_, spec, cfg_.publish_timeout);
    };
    co_await manage(std::move(open));
  }
  auto& g = group(sub->topic(), sub->group(), std::move(bucket));  // one opened meanwhile by another goes
  g.routes->add(sub);
  g.partitioned->wake();
}

asio::awaitable<void> nats_backend::attach(std::shared_ptr<subscriber> sub) {
  const auto use = uses_.enter("subscribe");
  co_await ensure_stream(sub->topic());
  co_await ensure_stream(dead_letter_topic(sub->topic()));
  if (partitioned(sub->topic())) {
    co_await attach_partitioned(sub);
    co_return;
  }
  nats::consumer_spec spec;
  spec.durable = jetstream_name(sub->group());
  spec.ack_wait = cfg_.ack_wait;
  spec.max_ack_pending = static_cast<std::int64_t>(cfg_.max_in_flight + cfg_.max_held);  // pull_target's
  std::function<void()> make_consumer = [this, stream = jetstream_name(sub->topic()), spec] {
    admin_->ensure_consumer(stream, spec);
  };
  co_await manage(std::move(make_consumer));
  auto& g = group(sub->topic(), sub->group());
  g.routes->add(std::move(sub));
  g.single->room_changed();
}

void nats_backend::detach(const std::shared_ptr<subscriber>& sub) {
  std::lock_guard lock(groups_mutex_);
  const auto it = groups_.find({sub->topic(), sub->group()});
  if (it == groups_.end()) return;
  it->second.routes->remove(sub);
  if (it->second.partitioned) it->second.partitioned->wake();  // leaves when it was the last
}

void nats_backend::reconnected() {
  log().info("NATS: connection back; pulling afresh");
  std::lock_guard lock(groups_mutex_);
  for (auto& [key, g] : groups_) {
    if (g.single) g.single->reconnected();
    if (g.partitioned) g.partitioned->reconnected();
  }
}

asio::awaitable<void> nats_backend::drain_partitions() {
  std::vector<nats_partitioned_group*> partitioned;
  {
    std::lock_guard lock(groups_mutex_);
    for (auto& [key, g] : groups_)
      if (g.partitioned) partitioned.push_back(g.partitioned.get());
  }
  for (auto* g : partitioned) co_await g->drain_pulls();
}

void nats_backend::stop_intake() {
  consumers_.cancel();
  consumers_.wait_idle();
  // A partition's next owner must get what this member pulled before anything newer: so the
  // requests out there are waited out (a sixth of the lease at most), not dropped in flight.
  asio::co_spawn(*strand_, drain_partitions(), asio::use_future).get();
  on_strand([this] {
    std::lock_guard lock(groups_mutex_);
    for (auto& [key, g] : groups_)
      if (g.single) g.single->stop();
  });
}

void nats_backend::shutdown() {
  // Publishes get the close timeout for their PubAcks; then the router fails what still waits.
  uses_.close();
  if (!uses_.close_and_wait_for(cfg_.close_timeout))
    log().warn("close: some publishes had no answer within nats.close_timeout; they fail");
  // The handlers ended: what was not handled goes back in order (ack_window::dropped), then a
  // partition's lease is released and the member leaves, so the others take over at once.
  on_strand([this] {
    std::lock_guard lock(groups_mutex_);
    for (auto& [key, g] : groups_) {
      if (g.single) g.single->give_back();
      if (g.partitioned) g.partitioned->give_back();
    }
  });
  {
    std::lock_guard lock(groups_mutex_);
    for (auto& [key, g] : groups_)
      if (g.partitioned) g.partitioned->leave();
  }
  on_strand([this] {
    std::lock_guard lock(groups_mutex_);
    for (auto& [key, g] : groups_) {
      if (g.single) g.single->disconnect();
      if (g.partitioned) g.partitioned->disconnect();
    }
    groups_.clear();  // their timers are the strand's
    replies_.reset();
  });
  uses_.close_and_wait_for(std::chrono::seconds(5));
  // Flushes what is buffered (the acknowledgements) while the strand still runs, then closes.
  conn_->close();
  blocking_.shutdown();
  publisher_.reset();
  admin_.reset();
  conn_.reset();
  server_.reset();
  strand_.reset();
}

corobus::connection_status nats_backend::connection_status() const {
  const auto s = conn_ ? conn_->state() : nats::connection_state{};
  corobus::connection_status out;
  out.connected = s.connected;
  out.disconnects = s.disconnects;
  out.reconnects = s.reconnects;
  out.last_error = s.last_error;
  out.server = s.server;
  return out;
}

}  // namespace corobus::detail
