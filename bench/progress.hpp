#pragma once
// Progress of a long run, on a terminal only: a line on stderr, redrawn every second, with
// the scenario running, what arrived of what was sent, and the time so far. Scenarios say
// what runs (begin) and how to count what arrived (count_with); finish() clears the line
// before the figures are printed.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace corobus::bench {

class progress {
 public:
  static progress& global();  // the run's one line

  void begin(std::string scenario, std::size_t sent);
  void count_with(std::function<std::size_t()> arrived);  // called from the redrawing thread
  void finish();

  // Redraws until stopped (main() holds one while the scenarios run); nothing when stderr
  // is not a terminal.
  class printer {
   public:
    printer();
    ~printer();
    printer(const printer&) = delete;
    printer& operator=(const printer&) = delete;

   private:
    struct state;
    std::unique_ptr<state> s_;
  };

 private:
  progress() = default;
  void draw();
  friend class printer;

  std::mutex mutex_;
  std::string scenario_;  // empty: nothing running
  std::size_t sent_ = 0;
  std::function<std::size_t()> arrived_;
  std::chrono::steady_clock::time_point since_;
  bool drawn_ = false;
};

}  // namespace corobus::bench
