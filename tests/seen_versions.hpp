#pragma once
// What consumers saw of a keyed stream of envelopes ("agg-<n>", versions 1, 2, ...): for the
// tests that count loss, duplicates and order breaks across restarts, kills and takeovers.
#include <corobus/corobus.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace corobus::test {

inline int aggregate_number(const envelope& e) { return std::stoi(e.aggregate_id.substr(4)); }

// The set of (aggregate, version) pairs seen by any consumer.
struct seen_union {
  std::mutex mutex;
  std::set<std::pair<int, std::int64_t>> pairs;
  std::size_t deliveries = 0;
  void add(const envelope& e) { add(aggregate_number(e), e.event_version); }
  void add(int aggregate, std::int64_t version) {
    std::lock_guard lock(mutex);
    pairs.emplace(aggregate, version);
    ++deliveries;
  }
  std::size_t unique() {
    std::lock_guard lock(mutex);
    return pairs.size();
  }
  std::size_t duplicates() {
    std::lock_guard lock(mutex);
    return deliveries - pairs.size();
  }
};

// What one consumer saw of each aggregate, in order: versions, redeliveries included.
struct seen_versions {
  std::mutex mutex;
  std::map<int, std::vector<std::int64_t>> by_aggregate;
  std::size_t count = 0;

  void add(const envelope& e) { add(aggregate_number(e), e.event_version); }
  void add(int aggregate, std::int64_t version) {
    std::lock_guard lock(mutex);
    by_aggregate[aggregate].push_back(version);
    ++count;
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return count;
  }
  // Versions this consumer handled more than once itself.
  std::size_t repeats() {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& [agg, versions] : by_aggregate)
      n += versions.size() - std::set(versions.begin(), versions.end()).size();
    return n;
  }
  // Order breaks: a version that skips ahead of the one before it. Going back is a
  // redelivery (a replay from the committed position), which then must run in order again.
  std::size_t gaps() {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& [agg, versions] : by_aggregate)
      for (std::size_t i = 1; i < versions.size(); ++i) n += versions[i] > versions[i - 1] + 1;
    return n;
  }
  // Order breaks where redeliveries come one message at a time (JetStream redelivers each
  // unacknowledged message by itself, not a replay from a position): a version seen for the
  // first time after a higher one was.
  std::size_t first_seen_out_of_order() {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& [agg, versions] : by_aggregate) {
      std::set<std::int64_t> seen;
      std::int64_t highest = 0;
      for (const auto v : versions) {
        if (seen.insert(v).second && v < highest) ++n;
        highest = std::max(highest, v);
      }
    }
    return n;
  }
};

}  // namespace corobus::test
