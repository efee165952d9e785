#pragma once
// What the benchmark reads about its own process: threads, descriptors, memory, CPU time.
#include <corobus/support/process_counts.hpp>

#include <fmt/format.h>

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
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

// The CPU seconds process `pid` used so far (utime + stime of /proc/<pid>/stat; 0 once it is gone).
inline double cpu_seconds_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto name_end = stat.rfind(')');  // the name (field 2) may hold spaces
  if (name_end == std::string::npos) return 0;
  std::istringstream fields(stat.substr(name_end + 1));
  std::string skipped;
  for (int field = 3; field < 14; ++field) fields >> skipped;
  unsigned long long user = 0, system = 0;
  fields >> user >> system;
  return static_cast<double>(user + system) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

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
