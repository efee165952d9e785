#pragma once
// Plain librdkafka clients for the tests, apart from the bus: another producer writing what it
// likes to a topic the bus consumes, a reader of what a topic holds, and the positions a group
// committed.
#include <corobus/eventbus/message.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corobus::test {

struct raw_record {
  std::optional<std::string> key;  // none: a record without a key
  std::string value;
  std::int32_t partition = -1;  // -1: librdkafka's partitioner picks
  corobus::headers headers;
};

// Writes `records` in their order and waits for every delivery report; throws on any failure.
// `properties`: more producer settings (message.max.bytes, to write what the bus would not).
void produce_raw(const std::string& bootstrap, const std::string& topic, const std::vector<raw_record>& records,
                 const std::vector<std::pair<std::string, std::string>>& properties = {});

// Every record of `topic` (all `partitions`) from the beginning, once `count` arrived or
// `timeout` passed: payload, key, headers, partition and offset.
std::vector<message> consume_raw(const std::string& bootstrap, const std::string& topic, int partitions,
                                 std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The position `group` committed for `topic` [partition], or -1001 (RD_KAFKA_OFFSET_INVALID) if none.
std::int64_t committed_offset(const std::string& bootstrap, const std::string& group, const std::string& topic,
                              std::int32_t partition);

// Makes `topics` (`partitions` each, and their .dlq topics when `with_dead_letters`) on a real
// broker, with `replication` replicas and `settings` ("min.insync.replicas", ...); a topic that
// exists already is left as it is. Throws on any other failure.
void create_topics(const std::string& bootstrap, const std::vector<std::string>& topics, int partitions,
                   int replication = 1, const std::vector<std::pair<std::string, std::string>>& settings = {});

// The node leading each partition of `topic`, by partition.
std::vector<std::int32_t> partition_leaders(const std::string& bootstrap, const std::string& topic);

// Deletes every topic but the broker's own (__consumer_offsets, ...) and every consumer group
// of a real broker: a case on the broker the test run shares starts from nothing, whatever
// the cases before it left. Throws when the broker refuses.
void clear_broker(const std::string& bootstrap);

}  // namespace corobus::test
