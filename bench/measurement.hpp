#pragma once
// The figures every scenario takes the same way: the process before the run, and after it
// the counts, latency percentiles, peak RSS and what close() left behind.
#include "latency.hpp"
#include "process_stats.hpp"
#include "progress.hpp"
#include "scenario.hpp"

#include <corobus/eventbus/bus.hpp>
#include <corobus/eventbus/envelope.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <vector>

namespace corobus::bench {

// A result named `name` that will send `sent` messages, with the process's figures now.
inline result begin_result(std::string name, std::size_t sent) {
  result r;
  r.name = std::move(name);
  r.sent = sent;
  reset_peak_rss();
  const process_snapshot before;
  r.threads_before = before.threads;
  r.fds_before = before.descriptors;
  progress::global().begin(r.name, sent);
  return r;
}

// What a scenario sends, made before the clock starts: per_aggregate versions of each of
// the aggregates "agg-0" ..., with a JSON payload of about `p.payload_bytes`.
struct workload {
  explicit workload(const parameters& p)
      : per_aggregate(p.messages / p.aggregates),
        total(per_aggregate * p.aggregates),
        payload(fmt::format(R"({{"data":"{}"}})", std::string(p.payload_bytes > 12 ? p.payload_bytes - 12 : 1, 'x'))) {
    for (std::size_t a = 0; a < p.aggregates; ++a) ids.push_back(fmt::format("agg-{}", a));
  }
  std::size_t per_aggregate;
  std::size_t total;
  std::string payload;
  std::vector<std::string> ids;
};

// What arrived: per-aggregate order and end-to-end latency. observe() is never called for
// one aggregate from two threads at once (its lane, or a single consumer thread, does that).
class arrivals {
 public:
  arrivals(std::size_t aggregates, std::size_t total) : last_(aggregates, 0), latency_(total) {
    progress::global().count_with([this] { return received(); });
  }
  ~arrivals() { progress::global().count_with(nullptr); }
  arrivals(const arrivals&) = delete;
  arrivals& operator=(const arrivals&) = delete;

  // Returns how many arrived so far, this one included.
  std::size_t observe(const envelope& e) {
    const auto a = static_cast<std::size_t>(std::stoul(e.aggregate_id.substr(4)));
    if (e.event_version != last_[a] + 1) violations_.fetch_add(1, std::memory_order_relaxed);
    last_[a] = e.event_version;
    latency_.record((e.event_version - 1) * last_.size() + a, e.timestamp);
    return received_.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  std::size_t received() const { return received_.load(std::memory_order_relaxed); }
  std::size_t order_violations() const { return violations_.load(std::memory_order_relaxed); }
  latency_record& latency() { return latency_; }

 private:
  std::vector<std::int64_t> last_;
  latency_record latency_;
  std::atomic<std::size_t> received_{0}, violations_{0};
};

// The run ended with its last arrival: its wall and CPU time.
inline void stop_clock(result& r, const run_clock& clock) {
  r.seconds = clock.wall_seconds();
  r.cpu_seconds = clock.cpu_seconds();
}

// Waits up to `timeout` for the last arrival (the run's time and CPU, from `clock`), then closes `b`
// and notes its tasks at peak and after close.
inline void close_after_last_arrival(result& r, bus& b, std::future<void> last_arrival, const run_clock& clock,
                                     std::chrono::steady_clock::duration timeout) {
  if (last_arrival.wait_for(timeout) == std::future_status::ready) stop_clock(r, clock);
  r.tasks_peak = b.metrics().peak_tasks;
  b.close();
  r.tasks_after = b.metrics().live_tasks;
}

// After the run and its close: what arrived, in what order, how fast, and what was left.
inline void finish_result(result& r, arrivals& a) {
  progress::global().finish();
  r.received = a.received();
  r.order_violations = a.order_violations();
  r.p50_ms = a.latency().percentile_ms(50);
  r.p99_ms = a.latency().percentile_ms(99);
  r.max_ms = a.latency().percentile_ms(100);
  r.rss_peak_kib = status_kib("VmHWM");
  r.threads_after = settled_thread_count(r.threads_before);
  r.fds_after = process_snapshot().descriptors;
}

}  // namespace corobus::bench
