// The corobus benchmark program: runs the scenarios and prints what they measured.
// --publishers applies to the memory scenario; the Kafka one publishes from one coroutine
// per aggregate, one version per publish and then --batch versions per publish (default 5).
//   corobus_bench [--messages N] [--aggregates N] [--threads N] [--publishers N] [--payload BYTES] [--batch N]
//   [--scenario all|memory|kafka|kafka-corobus|kafka-raw]
#include "scenario.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace corobus::bench;

namespace {

void print(const result& r) {
  fmt::print("{}\n", r.name);
  fmt::print("  messages        {} sent, {} received, {} order violations\n", r.sent, r.received, r.order_violations);
  fmt::print("  throughput      {:.0f} msg/s ({:.3f} s)\n", r.rate(), r.seconds);
  fmt::print("  cpu             {:.2f} s of the process, {:.2f} cores, {:.1f} us a message\n", r.cpu_seconds,
             r.seconds > 0 ? r.cpu_seconds / r.seconds : 0.0, r.received ? r.cpu_seconds * 1e6 / r.received : 0.0);
  fmt::print("  end-to-end      p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms\n", r.p50_ms, r.p99_ms, r.max_ms);
  fmt::print("  peak RSS        {:.1f} MiB\n", r.rss_peak_kib / 1024.0);
  fmt::print("  threads         {} before, {} after close\n", r.threads_before, r.threads_after);
  fmt::print("  descriptors     {} before, {} after close\n", r.fds_before, r.fds_after);
  fmt::print("  tasks           {} at peak, {} after close\n", r.tasks_peak, r.tasks_after);
  fmt::print("  verdict         {}\n", r.clean() ? "clean" : "NOT CLEAN");
}

std::size_t number(int& i, int argc, char** argv) {
  if (i + 1 >= argc) {
    fmt::print(stderr, "{} needs a number\n", argv[i]);
    std::exit(2);
  }
  return std::stoul(argv[++i]);
}

}  // namespace

int main(int argc, char** argv) {
  parameters p;
  std::string scenario = "memory";  // kafka takes the embedded cluster's 3 s group join per side
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--scenario") && i + 1 < argc)
      scenario = argv[++i];
    else if (!std::strcmp(argv[i], "--messages"))
      p.messages = number(i, argc, argv);
    else if (!std::strcmp(argv[i], "--aggregates"))
      p.aggregates = number(i, argc, argv);
    else if (!std::strcmp(argv[i], "--threads"))
      p.io_threads = number(i, argc, argv);
    else if (!std::strcmp(argv[i], "--payload"))
      p.payload_bytes = number(i, argc, argv);
    else if (!std::strcmp(argv[i], "--publishers"))
      p.publishers = number(i, argc, argv);
    else if (!std::strcmp(argv[i], "--batch"))
      p.batch = number(i, argc, argv);
    else {
      const bool asked = !std::strcmp(argv[i], "--help");
      fmt::print(asked ? stdout : stderr,
                 "usage: corobus_bench [--messages N] [--aggregates N] [--threads N] [--publishers N] [--payload "
                 "BYTES] [--batch N] [--scenario all|memory|kafka|kafka-corobus|kafka-raw]\n");
      return asked ? 0 : 2;
    }
  }
  if (p.aggregates == 0 || p.messages < p.aggregates || p.publishers == 0 || p.publishers > p.aggregates) {
    fmt::print(stderr, "need at least one message per aggregate\n");
    return 2;
  }
  if (p.batch == 0 || p.batch * p.aggregates > kafka_max_lead) {  // each publisher holds a batch's lead
    fmt::print(stderr, "--batch times --aggregates must be between 1 and {}\n", kafka_max_lead);
    return 2;
  }
  fmt::print("corobus benchmark: {} messages over {} aggregates, {} io threads, {} publishers, {}-byte payloads\n\n",
             p.messages, p.aggregates, p.io_threads, p.publishers, p.payload_bytes);
  bool clean = true;
  if (scenario == "all" || scenario == "memory") {
    const auto r = run_memory_dispatch(p);
    print(r);
    clean &= r.clean();
  }
  if (scenario == "all" || scenario == "kafka") {
    // corobus twice: each version its own awaited publish, then `batch` versions per publish.
    auto one_by_one = p;
    one_by_one.batch = 1;
    std::vector<result> corobus{run_kafka_end_to_end(one_by_one)};
    if (p.batch > 1) corobus.push_back(run_kafka_end_to_end(p));
    const auto raw = run_raw_librdkafka(p);
    for (const auto& r : corobus) print(r);
    print(raw);
    for (const auto& r : corobus) {
      fmt::print("kafka: corobus{} / raw librdkafka throughput = {:.2f}\n",
                 r.name.find("batches") != std::string::npos ? fmt::format(" in batches of {}", p.batch) : "",
                 raw.rate() > 0 ? r.rate() / raw.rate() : 0.0);
      clean &= r.clean();
    }
    clean &= raw.clean();
  }
  // One side alone, for profiling.
  for (const auto& [name, run] :
       {std::pair{"kafka-corobus", &run_kafka_end_to_end}, std::pair{"kafka-raw", &run_raw_librdkafka}})
    if (scenario == name) {
      const auto r = run(p);
      print(r);
      clean &= r.clean();
    }
  return clean ? 0 : 1;
}
