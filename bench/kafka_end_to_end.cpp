// Kafka end to end, on a real broker or the embedded cluster: corobus (publish_envelope +
// subscribe_envelopes) against a hand-written librdkafka produce + consume loop over the same
// data, each on a topic of its own.
#include "bus_end_to_end.hpp"

#include <corobus/awaitables/kafka/embedded_cluster.hpp>
#include <corobus/corobus.hpp>

#include <fmt/format.h>

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <thread>

namespace corobus::bench {

namespace {

constexpr int brokers = 3;
constexpr int partitions = 6;
constexpr auto give_up_after = std::chrono::seconds(120);
constexpr const char* topic = "bench-raw";  // the raw loop's

}  // namespace

result run_kafka_end_to_end(const parameters& p, const kafka_place& place) {
  const workload w(p);
  auto r = begin_result(
      p.batch > 1 ? fmt::format("kafka end to end (corobus, batches of {} versions, {})", p.batch, place.name())
                  : fmt::format("kafka end to end (corobus, {})", place.name()),
      w.total);
  arrivals arrived(p.aggregates, w.total);
  config cfg;
  cfg.backend = backend_kind::kafka;
  cfg.io_threads = p.io_threads;
  if (!place.bootstrap.empty()) cfg.kafka.bootstrap = place.bootstrap;
  cfg.kafka.embedded_brokers = brokers;
  cfg.kafka.partitions = partitions;
  // Set as a user after throughput would set them (measured on the 2-core machine, batches of 5):
  // - The handler never suspends, so a few lanes per io thread keep both threads busy. The
  //   default 256 lanes are for handlers that wait on I/O; here they only add wake-ups of idle
  //   lanes (about 0.4 us more CPU per message).
  // - Batched publishers keep up to 5,000 records in flight, enough to fill librdkafka's batches:
  //   they take librdkafka's default linger of 5 ms (the raw loop's too), not the bus's 1 ms,
  //   which is for publishers that await every record (5 ms halves their throughput).
  cfg.lanes = 8;
  if (p.batch > 1) cfg.kafka.producer_properties["linger.ms"] = "5";
  // The embedded cluster's first group join takes about 3 s: run_on_bus's join marker keeps
  // it out of the measured part.
  run_on_bus(r, arrived, cfg, p, w,
             {fmt::format("bench-corobus-{}", p.batch), kafka_max_lead, give_up_after, place.broker_cpu});
  finish_result(r, arrived);
  return r;
}

namespace {

// Counts the records whose delivery failed: the hand-written producer checks every report,
// as a publish awaited in corobus does.
void count_failed_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  if (m->err) static_cast<std::atomic<std::size_t>*>(opaque)->fetch_add(1);
}

rd_kafka_t* raw_client(rd_kafka_type_t type, const std::vector<std::pair<const char*, std::string>>& props,
                       std::atomic<std::size_t>* failed_deliveries = nullptr) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : props)
    if (rd_kafka_conf_set(conf, name, value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK)
      throw std::runtime_error(error);
  if (failed_deliveries) {
    rd_kafka_conf_set_dr_msg_cb(conf, count_failed_delivery);
    rd_kafka_conf_set_opaque(conf, failed_deliveries);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof error);
  if (!rk) throw std::runtime_error(error);
  return rk;
}

}  // namespace

// The baseline a user would write by hand, with corobus's guarantees: one thread producing
// (rd_kafka_producev, serving delivery reports with rd_kafka_poll and counting failed ones),
// one thread in rd_kafka_consumer_poll storing each record's offset for the auto-commit only
// once it was handled (at least once, as corobus commits), the same envelopes (made and
// encoded in the loop, as corobus's publishers do), keys and headers, and the same bound on
// how far producing may run ahead. Nagle is off in both clients, as corobus has it: with it
// on, loopback round trips stall at random. (Serving reports also makes the producer's wait
// for that bound, rd_kafka_poll, return at the next report; without reports it slept out
// its full millisecond each time, which held an earlier version of this loop near 360k/s.)
result run_raw_librdkafka(const parameters& p, const kafka_place& place) {
  const workload w(p);
  const auto& [per_aggregate, total, payload, ids] = w;
  auto r = begin_result(fmt::format("kafka end to end (raw librdkafka loop, {})", place.name()), total);
  arrivals arrived(p.aggregates, total);
  {
    // On a real broker the producer's first request makes the topic (num.partitions=6 there).
    std::optional<kafka::embedded_cluster> cluster;
    if (place.bootstrap.empty()) {
      cluster.emplace(brokers);
      cluster->create_topic(topic, partitions);
    }
    const auto bootstrap = cluster ? cluster->bootstrap_servers() : place.bootstrap;
    std::atomic<std::size_t> failed_deliveries{0};
    rd_kafka_t* producer = raw_client(RD_KAFKA_PRODUCER,
                                      {{"bootstrap.servers", bootstrap},
                                       {"enable.idempotence", "true"},
                                       {"linger.ms", "5"},
                                       {"socket.nagle.disable", "true"}},
                                      &failed_deliveries);
    // The consumer settings the bus gives its own embedded cluster (see embedded_cluster.hpp),
    // and on a real broker librdkafka's defaults, as the bus has them.
    std::vector<std::pair<const char*, std::string>> consumer_props{
        {"bootstrap.servers", bootstrap},      {"group.id", "raw-bench"},
        {"auto.offset.reset", "earliest"},     {"enable.auto.commit", "true"},
        {"enable.auto.offset.store", "false"}, {"socket.nagle.disable", "true"}};
    const auto mock_settings = kafka::embedded_cluster::consumer_properties();
    if (cluster)
      for (const auto& [name, value] : mock_settings) consumer_props.emplace_back(name.c_str(), value);
    rd_kafka_t* consumer = raw_client(RD_KAFKA_CONSUMER, consumer_props);
    rd_kafka_poll_set_consumer(consumer);
    auto* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    // As in the corobus run: a marker is produced and consumed before the clock starts, so
    // neither the mock's 3 s group join nor the first fetch is measured.
    const std::string join = envelope::make("join", "Join", 1, "{}").encode();
    rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY("join", 4),
                      RD_KAFKA_V_VALUE(const_cast<char*>(join.data()), join.size()),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    rd_kafka_flush(producer, 10'000);
    for (bool joined = false; !joined;)
      if (auto* m = rd_kafka_consumer_poll(consumer, 100)) {
        joined = !m->err && m->key_len == 4 && std::memcmp(m->key, "join", 4) == 0;
        rd_kafka_message_destroy(m);
      }

    const run_clock clock;
    const double broker_cpu_at_start = place.broker_cpu ? place.broker_cpu() : 0;
    std::thread consuming([&] {
      while (arrived.received() < total && clock.elapsed() < give_up_after) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
        if (!m) continue;
        if (!m->err) {
          if (arrived.observe(envelope::decode(std::string_view(static_cast<const char*>(m->payload), m->len))) ==
                  total &&
              place.broker_cpu)
            r.broker_cpu_seconds = place.broker_cpu() - broker_cpu_at_start;
          rd_kafka_offset_store(m->rkt, m->partition, m->offset);  // handled: the commit may pass it
        }
        rd_kafka_message_destroy(m);
      }
    });
    std::size_t produced = 0;
    for (std::size_t v = 1; v <= per_aggregate; ++v)
      for (std::size_t a = 0; a < p.aggregates; ++a, ++produced) {
        while (produced - arrived.received() >= kafka_max_lead) rd_kafka_poll(producer, 1);
        const auto e = envelope::make(ids[a], "Benchmarked", static_cast<std::int64_t>(v), payload);
        const auto value = e.encode();
        rd_kafka_headers_t* hs = rd_kafka_headers_new(4);  // the metadata headers corobus sends too
        for (const auto& h : metadata_headers(e))
          rd_kafka_header_add(hs, h.name.data(), static_cast<ssize_t>(h.name.size()), h.value.data(), h.value.size());
        while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(ids[a].data(), ids[a].size()),
                                 RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hs),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
          rd_kafka_poll(producer, 1);
        rd_kafka_poll(producer, 0);
      }
    rd_kafka_flush(producer, 60'000);
    if (const auto failed = failed_deliveries.load(); failed != 0)
      fmt::print(stderr, "raw librdkafka loop: {} deliveries failed\n", failed);
    consuming.join();
    if (arrived.received() == total) stop_clock(r, clock);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
  }
  finish_result(r, arrived);
  return r;
}

}  // namespace corobus::bench
