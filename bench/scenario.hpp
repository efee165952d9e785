#pragma once
// A benchmark scenario's parameters and what it measured.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace corobus::nats {
class embedded_server;
}

namespace corobus::bench {

struct parameters {
  std::size_t messages = 1'000'000;
  std::size_t aggregates = 1'000;
  std::size_t io_threads = 2;
  std::size_t publishers = 2;  // concurrent publishing coroutines, each owns a slice of the aggregates
  std::size_t payload_bytes = 100;
  std::size_t batch = 5;             // Kafka, NATS: versions of one aggregate per publish (publish_envelopes when > 1)
  bool nats_memory_storage = false;  // NATS: streams in memory instead of files (--nats-storage memory)
};

struct result {
  std::string name;
  std::size_t sent = 0;
  std::size_t received = 0;
  std::size_t order_violations = 0;
  double seconds = 0;             // first publish to last message handled
  double cpu_seconds = 0;         // CPU time of the whole process in those seconds
  double broker_cpu_seconds = 0;  // and of the broker's process, when it has one (nats-server)
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::size_t rss_peak_kib = 0;
  std::size_t threads_before = 0, threads_after = 0;
  std::size_t fds_before = 0, fds_after = 0;
  std::size_t tasks_peak = 0, tasks_after = 0;

  double rate() const { return seconds > 0 ? received / seconds : 0; }
  bool clean() const {
    return received == sent && order_violations == 0 && threads_after == threads_before && fds_after == fds_before &&
           tasks_after == 0;
  }
};

// Keyed dispatch on the in-process bus: publish envelopes over `aggregates` keys, a trivial
// async handler checks the order.
result run_memory_dispatch(const parameters& p);

// Kafka: how many records publishing may run ahead of consumption, in both variants. The
// embedded cluster keeps only about 5 MB per partition and drops the oldest beyond that, so
// an unbounded lead would measure the mock's trimming, not the clients: 20,000 records of
// about 450 bytes over 6 partitions stay near 1.5 MB a partition.
constexpr std::size_t kafka_max_lead = 20'000;

// Where a Kafka scenario runs: librdkafka's mock cluster in this process (`kafka-mock`), or
// a real broker in another one (`kafka`), whose CPU is then counted apart.
struct kafka_place {
  std::string bootstrap;               // empty: a mock cluster of 3 brokers, made for the run
  std::function<double()> broker_cpu;  // the broker process's CPU seconds so far
  std::string name() const { return bootstrap.empty() ? "embedded cluster" : "Apache Kafka"; }
};

// Kafka end to end (6 partitions): publish_envelope (or publish_envelopes, `batch` versions at
// a time) and subscribe_envelopes at once, one publisher per aggregate, on a topic of its own.
result run_kafka_end_to_end(const parameters& p, const kafka_place& place);
// The same data through a hand-written librdkafka producer thread and consumer-poll thread.
result run_raw_librdkafka(const parameters& p, const kafka_place& place);

// NATS: how many envelopes publishing may run ahead of consumption, in both variants. The
// stream keeps them all (file storage, no limits), so the bound only keeps the backlog, and
// with it the latency measured, the same in both: what it measures is the clients.
constexpr std::size_t nats_max_lead = 20'000;

// NATS JetStream end to end on `server` (the one nats-server a scenario starts; file storage):
// publish_envelope (or publish_envelopes, `batch` versions at a time) and subscribe_envelopes
// at once, one publisher per aggregate, on a topic of its own.
result run_nats_end_to_end(const parameters& p, const nats::embedded_server& server);
// The same data through a hand-written cnats loop: js_PublishMsgAsync on one thread, a pull
// consumer's Fetch and ack on another.
result run_raw_cnats(const parameters& p, const nats::embedded_server& server);

// A NATS group across processes on `server`: this process publishes (publish_envelopes,
// `batch` versions at a time, one publisher per aggregate) to a 6-partition topic, and two
// member processes share it in one group. `figures` counts first handlings as received and
// their order in each member's view; the members' CPU is not in it.
struct group_result {
  result figures;
  std::size_t duplicates = 0;  // handled again (a partition moving while its handlings were unacknowledged)
  double publish_seconds = 0;  // until the last publish was acknowledged
  bool members_clean = true;   // both member processes closed with no task left and exited 0
  bool clean() const { return members_clean && figures.clean(); }
};
group_result run_nats_group(const parameters& p, const nats::embedded_server& server);
// The member side, in its own process (corobus_bench --nats-group-member URL MAPPING THREADS file|memory).
int run_nats_group_member(const std::string& url, const std::string& mapping_path, std::size_t io_threads,
                          bool memory_storage);

}  // namespace corobus::bench
