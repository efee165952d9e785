#include "raw_kafka.hpp"

#include <librdkafka/rdkafka.h>

#include <fmt/format.h>

#include <array>
#include <memory>
#include <stdexcept>

namespace corobus::test {
namespace {

using client = std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)>;

client make(rd_kafka_type_t type, const std::vector<std::pair<std::string, std::string>>& props) {
  std::array<char, 512> error{};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : props)
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error.data(), error.size()) != RD_KAFKA_CONF_OK)
      throw std::runtime_error(error.data());
  rd_kafka_t* rk = rd_kafka_new(type, conf, error.data(), error.size());
  if (!rk) throw std::runtime_error(error.data());
  return {rk, &rd_kafka_destroy};
}

void delivered(rd_kafka_t*, const rd_kafka_message_t* m, void* failures) {
  if (m->err) ++*static_cast<int*>(failures);
}

// Runs one admin request `call(rk, options, queue)` and returns its result event, after
// checking the request as a whole succeeded.
template <class Call>
std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> admin_request(rd_kafka_t* rk, Call call) {
  std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> queue(rd_kafka_queue_new(rk),
                                                                             &rd_kafka_queue_destroy);
  std::unique_ptr<rd_kafka_AdminOptions_t, decltype(&rd_kafka_AdminOptions_destroy)> options(
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ANY), &rd_kafka_AdminOptions_destroy);
  std::array<char, 512> error{};
  rd_kafka_AdminOptions_set_request_timeout(options.get(), 30'000, error.data(), error.size());
  // The broker answers once the change is in the metadata, not merely accepted.
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), 30'000, error.data(), error.size());
  call(rk, options.get(), queue.get());
  std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> result(rd_kafka_queue_poll(queue.get(), 60'000),
                                                                              &rd_kafka_event_destroy);
  if (!result) throw std::runtime_error("no answer to an admin request within 60 s");
  if (rd_kafka_event_error(result.get()))
    throw std::runtime_error(std::string("admin request: ") + rd_kafka_event_error_string(result.get()));
  return result;
}

// The cluster's metadata: of `topic`, or of every topic when it is null.
std::unique_ptr<const rd_kafka_metadata_t, decltype(&rd_kafka_metadata_destroy)> metadata_of(rd_kafka_t* rk,
                                                                                             rd_kafka_topic_t* topic) {
  const rd_kafka_metadata_t* metadata = nullptr;
  if (const auto err = rd_kafka_metadata(rk, topic ? 0 : 1, topic, &metadata, 30'000))
    throw std::runtime_error(std::string("metadata: ") + rd_kafka_err2str(err));
  return {metadata, &rd_kafka_metadata_destroy};
}

// Throws for the first topic result that failed with other than `tolerated`.
void check_topic_results(const rd_kafka_topic_result_t* const* results, std::size_t count,
                         rd_kafka_resp_err_t tolerated, std::string_view what) {
  for (std::size_t i = 0; i < count; ++i)
    if (const auto err = rd_kafka_topic_result_error(results[i]); err && err != tolerated)
      throw std::runtime_error(fmt::format("{} {}: {}", what, rd_kafka_topic_result_name(results[i]),
                                           rd_kafka_topic_result_error_string(results[i])));
}

}  // namespace

void produce_raw(const std::string& bootstrap, const std::string& topic, const std::vector<raw_record>& records,
                 const std::vector<std::pair<std::string, std::string>>& properties) {
  int failures = 0;
  std::array<char, 512> error{};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error.data(), error.size());
  rd_kafka_conf_set(conf, "enable.idempotence", "true", error.data(), error.size());  // kept in order
  for (const auto& [name, value] : properties)
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error.data(), error.size()) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(error.data());
    }
  rd_kafka_conf_set_dr_msg_cb(conf, delivered);
  rd_kafka_conf_set_opaque(conf, &failures);
  client p(rd_kafka_new(RD_KAFKA_PRODUCER, conf, error.data(), error.size()), &rd_kafka_destroy);
  if (!p) throw std::runtime_error(error.data());
  for (const auto& r : records) {
    const void* key = r.key ? r.key->data() : nullptr;  // librdkafka's macros cast their arguments
    const std::size_t key_size = r.key ? r.key->size() : 0;
    rd_kafka_headers_t* headers = rd_kafka_headers_new(r.headers.size());
    for (const auto& h : r.headers)
      rd_kafka_header_add(headers, h.name.data(), static_cast<ssize_t>(h.name.size()), h.value.data(),
                          static_cast<ssize_t>(h.value.size()));
    const auto err = rd_kafka_producev(
        p.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(r.partition), RD_KAFKA_V_KEY(key, key_size),
        RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err) {
      rd_kafka_headers_destroy(headers);  // librdkafka owns them only once the record is taken
      throw std::runtime_error(std::string("producev: ") + rd_kafka_err2str(err));
    }
  }
  if (rd_kafka_flush(p.get(), 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("flush timed out");
  if (failures != 0) throw std::runtime_error(std::to_string(failures) + " record(s) failed");
}

std::vector<message> consume_raw(const std::string& bootstrap, const std::string& topic, int partitions,
                                 std::size_t count, std::chrono::milliseconds timeout) {
  auto c = make(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                    {"group.id", "corobus-test-reader"},
                                    {"enable.auto.commit", "false"},
                                    {"fetch.wait.max.ms", "10"}});
  std::unique_ptr<rd_kafka_topic_partition_list_t, decltype(&rd_kafka_topic_partition_list_destroy)> parts(
      rd_kafka_topic_partition_list_new(partitions), &rd_kafka_topic_partition_list_destroy);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  if (rd_kafka_assign(c.get(), parts.get())) throw std::runtime_error("assign failed");
  std::vector<message> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 100);
    if (!m) continue;
    if (!m->err) {
      message msg;
      msg.topic = topic;
      msg.partition = m->partition;
      msg.offset = m->offset;
      if (m->key) msg.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) msg.payload.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hs = nullptr;
      if (rd_kafka_message_headers(m, &hs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        std::size_t size;
        for (std::size_t i = 0; rd_kafka_header_get_all(hs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
          msg.headers.push_back({name, value ? std::string(static_cast<const char*>(value), size) : std::string()});
      }
      out.push_back(std::move(msg));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c.get());
  return out;
}

std::int64_t committed_offset(const std::string& bootstrap, const std::string& group, const std::string& topic,
                              std::int32_t partition) {
  auto c = make(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap}, {"group.id", group}});
  std::unique_ptr<rd_kafka_topic_partition_list_t, decltype(&rd_kafka_topic_partition_list_destroy)> parts(
      rd_kafka_topic_partition_list_new(1), &rd_kafka_topic_partition_list_destroy);
  rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), partition);
  if (const auto err = rd_kafka_committed(c.get(), parts.get(), 10000))
    throw std::runtime_error(std::string("committed: ") + rd_kafka_err2str(err));
  return parts->elems[0].offset;
}

void create_topics(const std::string& bootstrap, const std::vector<std::string>& topics, int partitions,
                   int replication, const std::vector<std::pair<std::string, std::string>>& settings) {
  auto admin = make(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap}});
  std::vector<rd_kafka_NewTopic_t*> requests;
  std::array<char, 512> error{};
  for (const auto& topic : topics) {
    requests.push_back(rd_kafka_NewTopic_new(topic.c_str(), partitions, replication, error.data(), error.size()));
    for (const auto& [name, value] : settings)
      rd_kafka_NewTopic_set_config(requests.back(), name.c_str(), value.c_str());
  }
  const auto result = admin_request(admin.get(), [&](rd_kafka_t* rk, auto* options, auto* queue) {
    rd_kafka_CreateTopics(rk, requests.data(), requests.size(), options, queue);
  });
  rd_kafka_NewTopic_destroy_array(requests.data(), requests.size());
  std::size_t count = 0;
  const auto* results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(result.get()), &count);
  check_topic_results(results, count, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "creating");
}

std::vector<std::int32_t> partition_leaders(const std::string& bootstrap, const std::string& topic) {
  auto admin = make(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap}});
  std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> handle(
      rd_kafka_topic_new(admin.get(), topic.c_str(), nullptr), &rd_kafka_topic_destroy);
  const auto metadata = metadata_of(admin.get(), handle.get());
  std::vector<std::int32_t> leaders;
  if (metadata->topic_cnt == 1)
    for (int p = 0; p < metadata->topics[0].partition_cnt; ++p)
      leaders.push_back(metadata->topics[0].partitions[p].leader);
  return leaders;
}

void clear_broker(const std::string& bootstrap) {
  auto admin = make(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap}});
  std::vector<rd_kafka_DeleteTopic_t*> topics;
  {
    const auto metadata = metadata_of(admin.get(), nullptr);
    for (int i = 0; i < metadata->topic_cnt; ++i)
      if (!std::string_view(metadata->topics[i].topic).starts_with("__"))
        topics.push_back(rd_kafka_DeleteTopic_new(metadata->topics[i].topic));
  }
  if (!topics.empty()) {
    const auto result = admin_request(admin.get(), [&](rd_kafka_t* rk, auto* options, auto* queue) {
      rd_kafka_DeleteTopics(rk, topics.data(), topics.size(), options, queue);
    });
    rd_kafka_DeleteTopic_destroy_array(topics.data(), topics.size());
    std::size_t count = 0;
    const auto* results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(result.get()), &count);
    check_topic_results(results, count, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "deleting");
  }
  const auto listed = admin_request(
      admin.get(), [](rd_kafka_t* rk, auto* options, auto* queue) { rd_kafka_ListConsumerGroups(rk, options, queue); });
  std::size_t count = 0;
  const auto* listings =
      rd_kafka_ListConsumerGroups_result_valid(rd_kafka_event_ListConsumerGroups_result(listed.get()), &count);
  if (count == 0) return;
  std::vector<rd_kafka_DeleteGroup_t*> groups;
  for (std::size_t i = 0; i < count; ++i)
    groups.push_back(rd_kafka_DeleteGroup_new(rd_kafka_ConsumerGroupListing_group_id(listings[i])));
  const auto deleted = admin_request(admin.get(), [&](rd_kafka_t* rk, auto* options, auto* queue) {
    rd_kafka_DeleteGroups(rk, groups.data(), groups.size(), options, queue);
  });
  rd_kafka_DeleteGroup_destroy_array(groups.data(), groups.size());
  const auto* results = rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(deleted.get()), &count);
  for (std::size_t i = 0; i < count; ++i)
    if (const auto* err = rd_kafka_group_result_error(results[i]))
      throw std::runtime_error(
          fmt::format("deleting group {}: {}", rd_kafka_group_result_name(results[i]), rd_kafka_error_string(err)));
}

}  // namespace corobus::test
