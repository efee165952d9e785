#include "backends/kafka/kafka_backend.hpp"
#include <corobus/awaitables/kafka/admin.hpp>
#include <corobus/awaitables/kafka/error.hpp>
#include <corobus/eventbus/topic.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/log.hpp>
#include "envelope/envelope_encoding.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>

namespace corobus::detail {
namespace {

std::chrono::milliseconds left_until(std::chrono::steady_clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
}

}  // namespace

kafka_backend::kafka_backend(backend_context context, const kafka_config& cfg) : context_(context), cfg_(cfg) {
  if (cfg_.bootstrap == "embedded") {
    cluster_ = std::make_unique<kafka::embedded_cluster>(cfg_.embedded_brokers);
    bootstrap_ = cluster_->bootstrap_servers();
  } else {
    bootstrap_ = cfg_.bootstrap;
  }
  producer_ = std::make_unique<kafka::producer>(context_.pool.make_strand(), producer_properties());
  // librdkafka refuses a record whose key, value and headers (name, value and two varint
  // lengths each) with its per-record overhead (at most 36 bytes) exceed message.max.bytes.
  // Varints are counted at their longest.
  limits_.max_record_bytes = producer_->max_message_bytes();
  limits_.record_overhead = 64;
  limits_.header_overhead = 10;
  check_brokers_answer();
  reports_.spawn(producer_->get_executor(), producer_->async_run(), "kafka producer reports");
}

kafka_backend::~kafka_backend() = default;

kafka::properties kafka_backend::client_properties(const kafka::properties& defaults,
                                                   const std::map<std::string, std::string>& specific) const {
  kafka::properties props = defaults;
  props["bootstrap.servers"] = bootstrap_;
  for (const auto& [name, value] : cfg_.properties) props[name] = value;
  for (const auto& [name, value] : specific) props[name] = value;
  return props;
}

kafka::properties kafka_backend::producer_properties() const {
  // librdkafka waits 5 minutes for a delivery by default: too long for a publish to hang on
  // an unreachable cluster.
  return client_properties({{"message.timeout.ms", "30000"}}, cfg_.producer_properties);
}

kafka::properties kafka_backend::consumer_properties(const std::string& group) const {
  // The embedded cluster needs its own consumer settings (rejoins, fetch waits: see there).
  auto defaults = cluster_ ? kafka::embedded_cluster::consumer_properties() : kafka::properties{};
  defaults["group.id"] = group;
  auto props = client_properties(defaults, cfg_.consumer_properties);
  props["group.id"] = group;  // the subscription's group, whatever the properties say
  return props;
}

void kafka_backend::check_brokers_answer() {
  const auto ec = kafka::request_metadata(producer_->handle(), cfg_.connect_timeout);
  if (!ec) return;
  throw_error(errc::broker_error, fmt::format("no Kafka broker at '{}' answered within {} ms: {}", bootstrap_,
                                              cfg_.connect_timeout.count(), ec.message()));
}

bool kafka_backend::topic_ready(std::string_view topic) {
  std::shared_lock lock(topics_mutex_);
  return ready_topics_.contains(topic);
}

asio::awaitable<void> kafka_backend::ensure_topic(std::string topic) {
  if (topic_ready(topic)) co_return;
  if (cluster_ && cfg_.topics == topic_strategy::create_if_missing) {
    // The embedded cluster has no admin API (CreateTopics times out): its own call creates
    // the topic, answered at once by its thread.
    try {
      cluster_->create_topic(topic, cfg_.partitions, std::min(cfg_.replication, cfg_.embedded_brokers));
    } catch (const boost::system::system_error& e) {
      if (e.code() != kafka::make_error_code(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)) throw;
    }
  } else {
    std::vector<kafka::topic_spec> specs(1);  // named: g++ 12 miscompiles braced lists in co_await
    specs[0].name = topic;
    specs[0].partitions = cfg_.partitions;
    specs[0].replication = cfg_.replication;
    specs[0].retention = cfg_.retention;
    co_await kafka::async_ensure_topics(producer_->handle(), producer_->get_executor(), std::move(specs), cfg_.topics,
                                        cfg_.connect_timeout);
  }
  std::lock_guard lock(topics_mutex_);
  ready_topics_.insert(std::move(topic));
}

namespace {

[[noreturn]] void throw_produce_error(const boost::system::error_code& ec, std::string_view topic) {
  throw boost::system::system_error(ec, fmt::format("producing to '{}'", topic));
}

// An envelope as a record keyed by its aggregate id. Validated by the bus; the metadata
// headers go to librdkafka straight from the envelope.
kafka::outgoing_record to_record(std::string topic, envelope& env) {
  auto payload = detail::encode_validated(env);
  auto headers = kafka::empty_headers();
  for_each_metadata_header(env, [&headers](std::string_view name, std::string_view value) {
    kafka::add_header(headers.get(), name, value);
  });
  return {std::move(topic), std::move(env.aggregate_id), std::move(payload), std::move(headers)};
}

}  // namespace

asio::awaitable<publish_result> kafka_backend::produce(kafka::outgoing_record r) {
  const auto use = producer_uses_.enter("the Kafka producer");
  if (!topic_ready(r.topic)) co_await ensure_topic(r.topic);  // no coroutine on the usual path
  auto outcome = co_await producer_->async_produce(std::move(r.topic), std::move(r.key), std::move(r.value),
                                                   std::move(r.headers), asio::as_tuple(asio::use_awaitable));
  auto& [ec, report] = outcome;
  if (ec) throw_produce_error(ec, report.topic);
  co_return publish_result{std::move(report.topic), report.partition, report.offset};
}

asio::awaitable<publish_result> kafka_backend::publish(message msg) {
  kafka::outgoing_record r{std::move(msg.topic), std::move(msg.key), std::move(msg.payload),
                           kafka::make_headers(msg.headers)};
  return produce(std::move(r));
}

asio::awaitable<publish_result> kafka_backend::publish_envelope(std::string topic, envelope env) {
  return produce(to_record(std::move(topic), env));
}

asio::awaitable<std::vector<publish_result>> kafka_backend::publish_envelopes(std::string topic,
                                                                              std::vector<envelope> batch) {
  const auto use = producer_uses_.enter("the Kafka producer");
  if (!topic_ready(topic)) co_await ensure_topic(topic);
  std::vector<kafka::outgoing_record> records;
  records.reserve(batch.size());
  for (auto& env : batch) records.push_back(to_record(topic, env));
  auto outcome = co_await producer_->async_produce_batch(std::move(records), asio::as_tuple(asio::use_awaitable));
  auto& [ec, reports] = outcome;
  if (ec) throw_produce_error(ec, topic);
  std::vector<publish_result> results;
  results.reserve(reports.size());
  for (auto& r : reports) results.push_back({std::move(r.topic), r.partition, r.offset});
  co_return results;
}

write_failure kafka_backend::classify(const boost::system::error_code& ec) const {
  if (ec.category() != kafka::error_category()) return write_failure::refused;
  switch (static_cast<rd_kafka_resp_err_t>(ec.value())) {
    // Refused at once by librdkafka (message.max.bytes), or by the broker (the topic's
    // max.message.bytes, which the producer cannot know).
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE: return write_failure::too_large;
    // librdkafka retries these itself until message.timeout.ms; what reaches us is that
    // timeout, or an outage or a leader move it could not wait out.
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:  // a topic being created is not known at once
      return write_failure::transient;
    // Authorization, a topic the cluster says is missing, invalid records, fatal producer
    // errors: nothing changes until someone acts.
    default: return write_failure::refused;
  }
}

void kafka_backend::purge_until_unused() {
  // Purged records report at once (served by the report task, which still runs), which ends
  // the uses awaiting them; a use that entered before the gate closed may still produce after
  // a purge, so purge again whenever the last use has not left within a moment.
  do producer_->purge();
  while (!producer_uses_.close_and_wait_for(std::chrono::milliseconds(50)));
}

kafka_group_consumer& kafka_backend::group(const std::string& name) {
  std::lock_guard lock(groups_mutex_);
  if (fetchers_.cancelled()) throw_error(errc::closed, "subscribe: the bus is closed");
  auto& g = groups_[name];
  if (g) return *g;
  auto made = std::make_unique<kafka_group_consumer>(context_, cfg_, name, consumer_properties(name));
  fetchers_.spawn(made->strand(), made->fetch(), fmt::format("kafka group '{}' fetch", name));
  fetchers_.spawn(made->strand(), made->commit_periodically(), fmt::format("kafka group '{}' commits", name));
  g = std::move(made);
  return *g;
}

asio::awaitable<void> kafka_backend::attach(std::shared_ptr<subscriber> sub) {
  {
    const auto use = producer_uses_.enter("subscribe");  // its client checks the topics
    co_await ensure_topic(sub->topic());
    co_await ensure_topic(dead_letter_topic(sub->topic()));
    // Both ready before the first record: a publish to the topic, a dead letter to the other.
    producer_->learn_topic(sub->topic());
    producer_->learn_topic(dead_letter_topic(sub->topic()));
  }
  group(sub->group()).add(std::move(sub));
}

void kafka_backend::detach(const std::shared_ptr<subscriber>& sub) {
  std::lock_guard lock(groups_mutex_);
  if (auto it = groups_.find(sub->group()); it != groups_.end()) it->second->remove(sub);
}

void kafka_backend::stop_intake() {
  fetchers_.cancel();
  fetchers_.wait_idle();
}

void kafka_backend::shutdown() {
  const auto deadline = std::chrono::steady_clock::now() + cfg_.close_timeout;
  // Whatever is still queued for the brokers gets the time left, while the report task
  // serves; then publishes still waiting fail with a purge error.
  producer_uses_.close();
  if (!producer_->flush(left_until(deadline)))
    log().warn(
        "close: some published records were not acknowledged within kafka.close_timeout; their "
        "publishes fail");
  purge_until_unused();
  reports_.cancel();
  reports_.wait_idle();

  {
    std::lock_guard lock(groups_mutex_);
    task_scope leaving;
    for (auto& [name, g] : groups_)
      leaving.spawn(g->strand(), g->async_leave(), fmt::format("kafka group '{}' leaving", name));
    if (!leaving.wait_idle_for(deadline - std::chrono::steady_clock::now())) {
      log().warn("close: leaving the Kafka group(s) took longer than kafka.close_timeout; giving up");
      leaving.cancel();
      leaving.wait_idle();
    }
    groups_.clear();  // the consumers' threads end here
  }
  producer_.reset();
  cluster_.reset();
}

}  // namespace corobus::detail
