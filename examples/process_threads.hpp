#pragma once
// The examples show that close() leaves no thread behind: they count /proc/self/task.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <thread>

namespace examples {

inline std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// A joined thread can stay listed in /proc/self/task for a moment: give it up to a second.
inline std::size_t settled_thread_count(std::size_t expected) {
  for (int i = 0; i < 1000 && thread_count() > expected; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return thread_count();
}

}  // namespace examples
