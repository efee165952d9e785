#include "raw_kafka.hpp"

#include <librdkafka/rdkafka.h>

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

}  // namespace corobus::test
