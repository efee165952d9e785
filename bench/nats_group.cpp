// NATS group across processes: one publisher (this process) on a partitioned topic and two
// member processes (this program again, with --nats-group-member) sharing its partitions in
// one group. What the members handled is counted in a shared mapping, one byte per message:
// the first handling of each counts as received (and its end-to-end latency is written),
// later ones as duplicates; each member checks per-key order in its own view.
#include "bus_end_to_end.hpp"
#include "latency.hpp"
#include "scenario.hpp"

#include <corobus/awaitables/nats/embedded_server.hpp>
#include <corobus/corobus.hpp>

#include <fmt/format.h>
#include <boost/asio/use_future.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace corobus::bench {
namespace {

constexpr int partitions = 6;
constexpr const char* topic = "bench-nats-group";
constexpr const char* group = "bench-workers";
constexpr auto give_up_after = std::chrono::seconds(300);

// The mapping both members and the publisher share: counters, then one byte of handlings and
// one latency slot per message (index (version - 1) * aggregates + aggregate).
struct shared_counts {
  std::atomic<std::uint64_t> ready;  // members subscribed
  std::atomic<std::uint64_t> received, duplicates, order_violations;
  std::atomic<std::int64_t> last_arrival_ns;  // steady clock, when received reached the total
  std::uint64_t aggregates, total;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

class shared_mapping {
 public:
  // Makes the file at `path` for `total` messages.
  shared_mapping(const std::string& path, std::size_t aggregates, std::size_t total)
      : shared_mapping(path, sizeof(shared_counts) + total + total * sizeof(std::int64_t)) {
    counts()->aggregates = aggregates;
    counts()->total = total;
  }
  // Maps the file a publisher made.
  explicit shared_mapping(const std::string& path) : shared_mapping(path, 0) {}
  ~shared_mapping() { ::munmap(base_, size_); }
  shared_mapping(const shared_mapping&) = delete;
  shared_mapping& operator=(const shared_mapping&) = delete;

  shared_counts* counts() const { return static_cast<shared_counts*>(base_); }
  std::atomic_ref<std::uint8_t> handled(std::size_t i) const {
    return std::atomic_ref<std::uint8_t>(static_cast<std::uint8_t*>(base_)[sizeof(shared_counts) + i]);
  }
  std::int64_t* latency_us() const {
    return reinterpret_cast<std::int64_t*>(static_cast<std::uint8_t*>(base_) + sizeof(shared_counts) + counts()->total);
  }

 private:
  // `size` 0: the file's own.
  shared_mapping(const std::string& path, std::size_t size) : size_(size) {
    const int fd = ::open(path.c_str(), size ? O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDWR | O_CLOEXEC, 0600);
    struct stat st {};
    const bool sized = size ? ::ftruncate(fd, static_cast<off_t>(size)) == 0 : ::fstat(fd, &st) == 0;
    if (fd < 0 || !sized) throw std::runtime_error(fmt::format("{}: {}", path, std::strerror(errno)));
    if (!size) size_ = static_cast<std::size_t>(st.st_size);
    base_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (base_ == MAP_FAILED) throw std::runtime_error(fmt::format("mmap {}: {}", path, std::strerror(errno)));
  }

  std::size_t size_;
  void* base_;
};

config group_config(const std::string& url, std::size_t io_threads, bool memory_storage) {
  config cfg;
  cfg.backend = backend_kind::nats;
  cfg.io_threads = io_threads;
  cfg.nats.url = url;
  cfg.nats.storage = memory_storage ? nats_storage::memory : nats_storage::file;
  cfg.nats.partitions = partitions;
  return cfg;
}

std::int64_t steady_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

}  // namespace

int run_nats_group_member(const std::string& url, const std::string& mapping_path, std::size_t io_threads,
                          bool memory_storage) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);  // taken by sigwait() below, in every thread
  const shared_mapping shared(mapping_path);
  auto* counts = shared.counts();
  progress::global().count_with([counts] { return static_cast<std::size_t>(counts->received.load()); });
  const auto aggregates = counts->aggregates, total = counts->total;
  std::vector<std::int64_t> highest(aggregates, 0);  // in this member's view; one lane per key
  bus b(group_config(url, io_threads, memory_storage));
  asio::co_spawn(
      b.get_executor(),
      [&]() -> asio::awaitable<void> {
        co_await b.async_subscribe_envelopes(
            topic,
            [&](const envelope& e) -> asio::awaitable<void> {
              const auto a = static_cast<std::size_t>(std::stoul(e.aggregate_id.substr(4)));
              const auto v = e.event_version;
              const auto i = static_cast<std::size_t>(v - 1) * aggregates + a;
              if (shared.handled(i).fetch_add(1) != 0) {
                counts->duplicates.fetch_add(1);
                co_return;
              }
              if (v < highest[a]) counts->order_violations.fetch_add(1);  // first seen after a later one
              highest[a] = std::max(highest[a], v);
              shared.latency_us()[i] =
                  std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now() - e.timestamp)
                      .count();
              if (counts->received.fetch_add(1) + 1 == total) counts->last_arrival_ns = steady_ns();
              co_return;
            },
            subscribe_options(group));
      },
      asio::use_future)
      .get();
  counts->ready.fetch_add(1);
  int signal = 0;
  sigwait(&term, &signal);
  b.close();
  return b.metrics().live_tasks == 0 ? 0 : 1;
}

group_result run_nats_group(const parameters& p, const nats::embedded_server& server) {
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  const workload w(p);
  const auto total = w.total;
  group_result g;
  auto& r = g.figures;
  r = begin_result(
      fmt::format("nats group (2 member processes, {} partitions, batches of {} versions)", partitions, p.batch),
      total);
  const auto path =
      (std::filesystem::temp_directory_path() / fmt::format("corobus-bench-group-{}", ::getpid())).string();
  const shared_mapping shared(path, p.aggregates, total);
  auto* counts = shared.counts();
  for (std::size_t i = 0; i < total; ++i) shared.latency_us()[i] = -1;

  std::vector<pid_t> members;
  const auto threads = std::to_string(p.io_threads);
  for (int m = 0; m < 2; ++m) {
    std::vector<std::string> args{
        self.string(), "--nats-group-member", server.url(), path, threads, p.nats_memory_storage ? "memory" : "file"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (const int err = posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ); err != 0)
      throw std::runtime_error(fmt::format("cannot start a member: {}", std::strerror(err)));
    members.push_back(pid);
  }
  std::vector<int> statuses(members.size(), -1);  // -1: still running
  const auto any_exited = [&] {
    bool exited = false;
    for (std::size_t m = 0; m < members.size(); ++m)
      if (int status = 0; statuses[m] == -1 && ::waitpid(members[m], &status, WNOHANG) == members[m]) {
        statuses[m] = status;
        exited = true;
      }
    return exited;
  };
  {
    bus publisher(group_config(server.url(), p.io_threads, p.nats_memory_storage));
    while (counts->ready < 2 && !any_exited()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // The members take their partitions from here on: the first looks and the join's moves are
    // in the figures, as in a group that starts with its traffic.
    const run_clock clock;
    const auto started_ns = steady_ns();
    publish_all(publisher, topic, p, w, nullptr);  // no lead bound: the stream keeps the backlog
    g.publish_seconds = clock.wall_seconds();
    while (counts->received < total && clock.elapsed() < give_up_after && !any_exited())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (counts->received == total) r.seconds = static_cast<double>(counts->last_arrival_ns - started_ns) / 1e9;
    r.cpu_seconds = clock.cpu_seconds();  // the publisher's; the members' are their own
    r.tasks_peak = publisher.metrics().peak_tasks;
    publisher.close();
    r.tasks_after = publisher.metrics().live_tasks;
  }
  for (std::size_t m = 0; m < members.size(); ++m) {
    if (statuses[m] == -1) {
      ::kill(members[m], SIGTERM);
      while (::waitpid(members[m], &statuses[m], 0) < 0 && errno == EINTR) {
      }
    }
    g.members_clean &= WIFEXITED(statuses[m]) && WEXITSTATUS(statuses[m]) == 0;
  }
  if (!g.members_clean) fmt::print(stderr, "nats group: a member process failed or left tasks behind\n");
  progress::global().finish();
  r.received = counts->received;
  r.order_violations = counts->order_violations;
  g.duplicates = counts->duplicates;
  latency_record latency(total);
  for (std::size_t i = 0; i < total; ++i) latency.set_micros(i, shared.latency_us()[i]);
  r.p50_ms = latency.percentile_ms(50);
  r.p99_ms = latency.percentile_ms(99);
  r.max_ms = latency.percentile_ms(100);
  r.rss_peak_kib = status_kib("VmHWM");
  r.threads_after = settled_thread_count(r.threads_before);
  r.fds_after = process_snapshot().descriptors;
  std::filesystem::remove(path);
  return g;
}

}  // namespace corobus::bench
