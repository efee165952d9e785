#pragma once
// What a benchmark run measured, kept for --json (every figure, machine-readable) and
// --chart (throughput per scenario and the latency percentiles, drawn by gnuplot).
#include "scenario.hpp"

#include <string>
#include <utility>
#include <vector>

namespace corobus::bench {

class report {
 public:
  void add(const result& r) { results_.push_back(r); }
  // corobus's throughput over the raw client's loop (or a group's over one process's).
  void ratio(std::string what, double value) { ratios_.emplace_back(std::move(what), value); }

  // Both throw std::runtime_error when the file cannot be written (or gnuplot fails).
  void write_json(const std::string& path, const parameters& p) const;
  void write_chart(const std::string& path) const;

 private:
  std::vector<result> results_;
  std::vector<std::pair<std::string, double>> ratios_;
};

}  // namespace corobus::bench
