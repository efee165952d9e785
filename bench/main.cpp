// The corobus benchmark program: runs the scenarios and prints what they measured.
// --publishers applies to the memory scenario; the Kafka and NATS ones publish from one
// coroutine per aggregate, one version per publish and then --batch versions per publish
// (default 5). kafka runs on a real Apache Kafka broker (one KRaft node in its own JVM, from
// COROBUS_KAFKA_BROKER_LIBS, which ./dev bench sets), whose CPU is printed apart; kafka-mock
// on librdkafka's mock cluster in this process. The NATS scenarios run on each nats-server:
// the one in PATH (Debian's 2.9.10) and COROBUS_NATS_SERVER_CURRENT (./dev bench builds it).
// The NATS scenario starts one nats-server for all its variants; nats-group runs the
// single-process NATS scenario and then a group of two member processes (this program,
// started with --nats-group-member) on a 6-partition topic, on one server.
// On a terminal a progress line shows the scenario running; --json FILE writes every figure,
// --chart FILE.png draws throughput and latency per scenario with gnuplot.
//   corobus_bench [--messages N] [--aggregates N] [--threads N] [--publishers N] [--payload BYTES] [--batch N]
//                 [--nats-storage file|memory] [--json FILE] [--chart FILE.png]
//   [--scenario all|memory|kafka|kafka-mock|kafka-corobus|kafka-raw|nats|nats-corobus|nats-raw|nats-group]
#include "progress.hpp"
#include "report.hpp"
#include "scenario.hpp"

#include "process_stats.hpp"

#include <corobus/awaitables/nats/embedded_server.hpp>
#include <corobus/support/kafka_broker.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace corobus::bench;

namespace {

report figures;  // every result printed, for --json and --chart

void print(const result& r) {
  figures.add(r);
  fmt::print("{}\n", r.name);
  fmt::print("  messages        {} sent, {} received, {} order violations\n", r.sent, r.received, r.order_violations);
  fmt::print("  throughput      {:.0f} msg/s ({:.3f} s)\n", r.rate(), r.seconds);
  fmt::print("  cpu             {:.2f} s of the process, {:.2f} cores, {:.1f} us a message\n", r.cpu_seconds,
             r.seconds > 0 ? r.cpu_seconds / r.seconds : 0.0, r.received ? r.cpu_seconds * 1e6 / r.received : 0.0);
  if (r.broker_cpu_seconds > 0)
    fmt::print("  broker cpu      {:.2f} s of the server process, {:.1f} us a message\n", r.broker_cpu_seconds,
               r.received ? r.broker_cpu_seconds * 1e6 / r.received : 0.0);
  fmt::print("  end-to-end      p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms\n", r.p50_ms, r.p99_ms, r.max_ms);
  fmt::print("  peak RSS        {:.1f} MiB\n", r.rss_peak_kib / 1024.0);
  fmt::print("  threads         {} before, {} after close\n", r.threads_before, r.threads_after);
  fmt::print("  descriptors     {} before, {} after close\n", r.fds_before, r.fds_after);
  fmt::print("  tasks           {} at peak, {} after close\n", r.tasks_peak, r.tasks_after);
  fmt::print("  verdict         {}\n", r.clean() ? "clean" : "NOT CLEAN");
}

// corobus twice (each version its own awaited publish, then `batch` versions per publish)
// and the raw client's loop, printed together with corobus's throughput over the raw loop's.
bool compare(const parameters& p, const char* broker, const char* raw_client,
             const std::function<result(const parameters&)>& run_corobus, const std::function<result()>& run_raw) {
  auto one_by_one = p;
  one_by_one.batch = 1;
  std::vector<result> corobus{run_corobus(one_by_one)};
  if (p.batch > 1) corobus.push_back(run_corobus(p));
  const auto raw = run_raw();
  for (const auto& r : corobus) print(r);
  print(raw);
  bool clean = raw.clean();
  for (const auto& r : corobus) {
    const auto what = fmt::format(
        "{}: corobus{} / raw {}", broker,
        r.name.find("batches") != std::string::npos ? fmt::format(" in batches of {}", p.batch) : "", raw_client);
    const double ratio = raw.rate() > 0 ? r.rate() / raw.rate() : 0.0;
    fmt::print("{} throughput = {:.2f}\n", what, ratio);
    figures.ratio(what, ratio);
    clean &= r.clean();
  }
  return clean;
}

// What `executable --version` says of itself ("nats-server: v2.9.10" gives "nats-server 2.9.10").
std::string version_of(const std::string& executable) {
  std::string said;
  if (FILE* out = ::popen((executable + " --version 2>&1").c_str(), "r")) {
    char chunk[256];
    while (std::fgets(chunk, sizeof chunk, out)) said += chunk;
    ::pclose(out);
  }
  const auto v = said.find(" v");
  return v == std::string::npos ? executable
                                : "nats-server " + said.substr(v + 2, said.find_first_of(" \n", v + 2) - v - 2);
}

// The nats-servers the NATS scenarios run on, each with its name and version.
std::vector<std::pair<corobus::nats::embedded_server::options, std::string>> nats_servers() {
  std::vector<std::pair<corobus::nats::embedded_server::options, std::string>> servers(1);
  if (const char* current = std::getenv("COROBUS_NATS_SERVER_CURRENT"); current && *current) {
    servers.emplace_back();
    servers.back().first.executable = current;
  } else {
    fmt::print("(no COROBUS_NATS_SERVER_CURRENT: the NATS scenarios run on the nats-server in PATH only)\n\n");
  }
  for (auto& [options, name] : servers) name = version_of(options.executable);
  return servers;
}

// A real Kafka broker for the kafka scenarios, with the partitions the bench's topics have.
struct real_kafka {
  corobus::support::kafka_broker broker{[] {
    corobus::support::kafka_broker::options o;
    o.properties = {"num.partitions=6"};
    return o;
  }()};
  kafka_place place{broker.bootstrap(), [pid = broker.pid()] { return cpu_seconds_of(pid); }};
};

std::size_t number(int& i, int argc, char** argv) {
  if (i + 1 >= argc) {
    fmt::print(stderr, "{} needs a number\n", argv[i]);
    std::exit(2);
  }
  return std::stoul(argv[++i]);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 6 && !std::strcmp(argv[1], "--nats-group-member"))
    return run_nats_group_member(argv[2], argv[3], std::stoul(argv[4]), !std::strcmp(argv[5], "memory"));
  parameters p;
  std::string scenario = "memory";
  std::string json_path, chart_path;
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
    else if (!std::strcmp(argv[i], "--json") && i + 1 < argc)
      json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--chart") && i + 1 < argc)
      chart_path = argv[++i];
    else if (!std::strcmp(argv[i], "--nats-storage") && i + 1 < argc)
      p.nats_memory_storage = !std::strcmp(argv[++i], "memory");  // else file, the default
    else {
      const bool asked = !std::strcmp(argv[i], "--help");
      fmt::print(asked ? stdout : stderr,
                 "usage: corobus_bench [--messages N] [--aggregates N] [--threads N] [--publishers N] [--payload "
                 "BYTES] [--batch N] [--nats-storage file|memory] [--json FILE] [--chart FILE.png] [--scenario "
                 "all|memory|kafka|kafka-mock|kafka-corobus|kafka-raw|nats|nats-corobus|nats-raw|nats-group]\n");
      return asked ? 0 : 2;
    }
  }
  if (p.aggregates == 0 || p.messages < p.aggregates || p.publishers == 0 || p.publishers > p.aggregates) {
    fmt::print(stderr, "need at least one message per aggregate\n");
    return 2;
  }
  // Each publisher holds a batch's lead.
  if (constexpr auto max_lead = std::min(kafka_max_lead, nats_max_lead);
      p.batch == 0 || p.batch * p.aggregates > max_lead) {
    fmt::print(stderr, "--batch times --aggregates must be between 1 and {}\n", max_lead);
    return 2;
  }
  fmt::print("corobus benchmark: {} messages over {} aggregates, {} io threads, {} publishers, {}-byte payloads\n\n",
             p.messages, p.aggregates, p.io_threads, p.publishers, p.payload_bytes);
  bool clean = true;
  std::optional<progress::printer> progress_line(std::in_place);
  if (scenario == "all" || scenario == "memory") {
    const auto r = run_memory_dispatch(p);
    print(r);
    clean &= r.clean();
  }
  if (scenario == "all" || scenario == "kafka") {
    const real_kafka kafka;
    clean &= compare(
        p, "kafka", "librdkafka", [&](const parameters& q) { return run_kafka_end_to_end(q, kafka.place); },
        [&] { return run_raw_librdkafka(p, kafka.place); });
  }
  if (scenario == "all" || scenario == "kafka-mock") {
    const kafka_place mock;
    clean &= compare(
        p, "kafka-mock", "librdkafka", [&](const parameters& q) { return run_kafka_end_to_end(q, mock); },
        [&] { return run_raw_librdkafka(p, mock); });
  }
  const bool nats = scenario == "all" || scenario.starts_with("nats");
  for (const auto& [options, server_name] : nats ? nats_servers() : decltype(nats_servers()){}) {
    const auto on = [&, &server_name = server_name](result r) {
      r.name += fmt::format(" [{}]", server_name);
      return r;
    };
    const auto broker = fmt::format("nats [{}]", server_name);
    if (scenario == "all" || scenario == "nats") {
      const corobus::nats::embedded_server server(options);  // one for all three runs, each on a stream of its own
      clean &= compare(
          p, broker.c_str(), "cnats", [&](const parameters& q) { return on(run_nats_end_to_end(q, server)); },
          [&] { return on(run_raw_cnats(p, server)); });
    }
    if (scenario == "all" || scenario == "nats-group") {
      const corobus::nats::embedded_server server(options);
      const auto single = on(run_nats_end_to_end(p, server));
      auto grouped = run_nats_group(p, server);
      grouped.figures = on(grouped.figures);
      print(single);
      print(grouped.figures);
      fmt::print("  duplicates      {}\n  publishing      {:.3f} s\n  members         {}\n", grouped.duplicates,
                 grouped.publish_seconds, grouped.members_clean ? "closed clean" : "NOT CLEAN");
      const double ratio = single.rate() > 0 ? grouped.figures.rate() / single.rate() : 0.0;
      fmt::print("{}: group of 2 member processes / single process throughput = {:.2f}\n", broker, ratio);
      figures.ratio(broker + ": group of 2 member processes / single process", ratio);
      clean &= single.clean() && grouped.clean();
    }
    // One side alone, for profiling.
    for (const auto& [name, run] :
         {std::pair{"nats-corobus", &run_nats_end_to_end}, std::pair{"nats-raw", &run_raw_cnats}})
      if (scenario == name) {
        const corobus::nats::embedded_server server(options);
        const auto r = on(run(p, server));
        print(r);
        clean &= r.clean();
      }
  }
  // One side alone, for profiling (on a real broker).
  for (const auto& [name, run] :
       {std::pair{"kafka-corobus", &run_kafka_end_to_end}, std::pair{"kafka-raw", &run_raw_librdkafka}})
    if (scenario == name) {
      const real_kafka kafka;
      const auto r = run(p, kafka.place);
      print(r);
      clean &= r.clean();
    }
  progress_line.reset();
  try {
    if (!json_path.empty()) figures.write_json(json_path, p);
    if (!chart_path.empty()) figures.write_chart(chart_path);
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  }
  return clean ? 0 : 1;
}
