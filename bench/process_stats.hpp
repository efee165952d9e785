#pragma once
// What the benchmark reads about its own process: threads, descriptors, memory.
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>

namespace corobus::bench {

inline std::size_t count_entries(const char* dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

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

struct process_snapshot {
  std::size_t threads = count_entries("/proc/self/task");
  std::size_t descriptors = count_entries("/proc/self/fd");
  std::size_t rss_kib = status_kib("VmRSS");
};

}  // namespace corobus::bench
