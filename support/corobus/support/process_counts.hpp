#pragma once
// The process's threads and descriptors, as the tests, the examples and the benchmark count
// them to show that close() leaves nothing behind. Not part of the library.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <thread>

namespace corobus::support {

inline std::size_t entries_of(const char* dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

inline std::size_t thread_count() { return entries_of("/proc/self/task"); }
inline std::size_t descriptor_count() { return entries_of("/proc/self/fd"); }

// The thread count with no thread still ending: the lowest of 20 readings 1 ms apart. Under
// qemu-user a joined thread stays listed for milliseconds (qemu ends its host thread after the
// guest's join returned), which would inflate a count taken as a baseline.
inline std::size_t quiet_thread_count() {
  auto n = thread_count();
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    n = std::min(n, thread_count());
  }
  return n;
}

// The thread count once it stops falling toward `expected` (up to a second): a joined thread
// can stay listed in /proc/self/task for a moment after join() returned, and nothing signals
// when it goes.
inline std::size_t settled_thread_count(std::size_t expected) {
  for (int i = 0; i < 1000 && thread_count() > expected; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return thread_count();
}

}  // namespace corobus::support
