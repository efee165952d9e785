#pragma once
// What the benchmark reads about its own process: threads, descriptors, memory, CPU time.
#include <corobus/support/process_counts.hpp>

#include <chrono>
#include <cstddef>
#include <ctime>
#include <fstream>
#include <string>

namespace corobus::bench {

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM").
inline std::size_t status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  std::size_t value = 0;
  while (in >> key) {
    if (key == field + ":") {
      in >> value;
      return value;
    }
    in.ignore(4096, '\n');
  }
  return 0;
}

// Starts a new peak: VmHWM becomes the current RSS (Linux: "5" to clear_refs), so each
// scenario's peak is its own, not the largest of those run before it in this process.
inline void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

using support::descriptor_count;
using support::settled_thread_count;
using support::thread_count;

struct process_snapshot {
  std::size_t threads = thread_count();
  std::size_t descriptors = descriptor_count();
  std::size_t rss_kib = status_kib("VmRSS");
};

// The measured part of a run: wall time, and the CPU time of the whole process in it (every
// thread: the io pool's, librdkafka's and the embedded brokers').
class run_clock {
 public:
  run_clock() : wall_(std::chrono::steady_clock::now()), cpu_(process_cpu_seconds()) {}
  std::chrono::steady_clock::duration elapsed() const { return std::chrono::steady_clock::now() - wall_; }
  double wall_seconds() const { return std::chrono::duration<double>(elapsed()).count(); }
  double cpu_seconds() const { return process_cpu_seconds() - cpu_; }

 private:
  static double process_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  }
  std::chrono::steady_clock::time_point wall_;
  double cpu_;
};

}  // namespace corobus::bench
