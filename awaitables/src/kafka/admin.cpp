#include <corobus/awaitables/kafka/admin.hpp>
#include <corobus/awaitables/kafka/error.hpp>
#include <corobus/awaitables/kafka/event_queue.hpp>
#include <corobus/runtime/error.hpp>

#include <fmt/format.h>

#include <array>
#include <memory>

namespace corobus::kafka {

boost::system::error_code request_metadata(rd_kafka_t* rk, std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* metadata = nullptr;
  const auto err = rd_kafka_metadata(rk, 0, nullptr, &metadata, static_cast<int>(timeout.count()));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_metadata_destroy(metadata);
  return make_error_code(err);
}

namespace {

using new_topic_ptr = std::unique_ptr<rd_kafka_NewTopic_t, detail::destroyer<rd_kafka_NewTopic_destroy>>;
using admin_options_ptr = std::unique_ptr<rd_kafka_AdminOptions_t, detail::destroyer<rd_kafka_AdminOptions_destroy>>;

new_topic_ptr make_new_topic(const topic_spec& spec) {
  if (spec.partitions < 1 || spec.replication < 1)
    throw_error(errc::invalid_config,
                fmt::format("topic '{}': partitions and replication must be at least 1 (got {} and {})", spec.name,
                            spec.partitions, spec.replication));
  std::array<char, 512> error{};
  new_topic_ptr t(
      rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, spec.replication, error.data(), error.size()));
  if (!t) throw_error(errc::invalid_config, fmt::format("topic '{}': {}", spec.name, error.data()));
  if (spec.retention)
    throw_if(rd_kafka_NewTopic_set_config(t.get(), "retention.ms", std::to_string(spec.retention->count()).c_str()),
             fmt::format("topic '{}': retention", spec.name));
  return t;
}

}  // namespace

asio::awaitable<void> detail::ensure_topics_op(rd_kafka_t* rk, asio::any_io_executor ex, std::vector<topic_spec> topics,
                                               topic_strategy strategy, std::chrono::milliseconds timeout) {
  if (strategy == topic_strategy::skip || topics.empty()) co_return;

  std::vector<new_topic_ptr> owned;
  std::vector<rd_kafka_NewTopic_t*> raw;
  for (const auto& spec : topics) raw.push_back(owned.emplace_back(make_new_topic(spec)).get());

  admin_options_ptr options(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  std::array<char, 512> error{};
  throw_if(rd_kafka_AdminOptions_set_request_timeout(options.get(), static_cast<int>(timeout.count()), error.data(),
                                                     error.size()),
           "admin request timeout");
  // Validation asks the broker to check the creation without doing it: a topic that exists
  // answers TOPIC_ALREADY_EXISTS, one that is missing answers success.
  const bool validate = strategy == topic_strategy::validate_only;
  if (validate)
    throw_if(rd_kafka_AdminOptions_set_validate_only(options.get(), 1, error.data(), error.size()), "validate only");

  event_queue results(ex, queue_ptr(rd_kafka_queue_new(rk)));
  rd_kafka_CreateTopics(rk, raw.data(), raw.size(), options.get(), results.get());
  event_ptr ev;
  while (!(ev = results.poll())) co_await results.async_wait();

  throw_if(rd_kafka_event_error(ev.get()), "creating topics");
  std::size_t count = 0;
  const auto* result = rd_kafka_event_CreateTopics_result(ev.get());
  const auto** each = rd_kafka_CreateTopics_result_topics(result, &count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto err = rd_kafka_topic_result_error(each[i]);
    const std::string name = rd_kafka_topic_result_name(each[i]);
    if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
    if (validate && err == RD_KAFKA_RESP_ERR_NO_ERROR)
      throw_error(errc::invalid_config, fmt::format("topic '{}' does not exist (topic strategy: validate only)", name));
    const char* why = rd_kafka_topic_result_error_string(each[i]);
    throw_if(err, fmt::format("topic '{}'{}{}", name, why ? ": " : "", why ? why : ""));
  }
}

}  // namespace corobus::kafka
