#pragma once
// End-to-end latencies, one slot per message (written once, by the message's handler), read
// after the run for percentiles.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace corobus::bench {

class latency_record {
 public:
  explicit latency_record(std::size_t messages) : micros_(messages, -1) {}

  void record(std::size_t index, std::chrono::system_clock::time_point sent) {
    micros_[index] =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now() - sent).count();
  }

  // A latency measured elsewhere (another process); negative: none.
  void set_micros(std::size_t index, std::int64_t micros) { micros_[index] = micros; }

  // Percentile in milliseconds over the recorded slots.
  double percentile_ms(double p) {
    if (sorted_.empty()) {
      for (auto v : micros_)
        if (v >= 0) sorted_.push_back(v);
      std::sort(sorted_.begin(), sorted_.end());
    }
    if (sorted_.empty()) return 0;
    const auto i = std::min(sorted_.size() - 1, static_cast<std::size_t>(p / 100.0 * sorted_.size()));
    return sorted_[i] / 1000.0;
  }

 private:
  std::vector<std::int64_t> micros_;
  std::vector<std::int64_t> sorted_;
};

}  // namespace corobus::bench
