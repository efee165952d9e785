#pragma once
// A keyed stream that goes on while a test makes group members join, close, pause and die:
// each aggregate's publisher ("agg-<a>", one coroutine each) sends its versions in order up to
// `allowed`, which the test raises step by step until what it waits for happened, so each step
// lands mid-stream however long the group takes to rebalance. A publish that fails (a server
// away) is tried again with the same envelope, so the same event id (stored once on NATS; on
// Kafka, a record that reached the log before its publish failed is there twice); each
// failure is kept, with how long that publish took. The publishers' state is shared with
// them, so a test that ends early leaves nothing dangling.
#include "support.hpp"

#include <corobus/corobus.hpp>

#include <boost/asio/as_tuple.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace corobus::test {

class stepped_stream {
 public:
  struct failure {
    boost::system::error_code code;
    std::chrono::steady_clock::duration took;
  };

  stepped_stream(bus& publisher, const std::string& topic, int aggregates, int max_versions)
      : s_(std::make_shared<state>(aggregates, max_versions)) {
    for (int a = 0; a < aggregates; ++a)
      asio::co_spawn(publisher.get_executor(), publish(publisher, topic, a, s_), [s = s_](std::exception_ptr e) {
        if (!e) ++s->done;  // else the bus closed under it: finished() stays false
      });
  }

  // Allows one more version of every aggregate every `step` until `condition` holds; false
  // when the stream ran out first.
  bool advance_until(const std::function<bool()>& condition,
                     std::chrono::milliseconds step = std::chrono::milliseconds(50)) {
    const auto& s = s_;
    while (!condition()) {
      if (s->allowed >= s->max_versions) return false;
      ++s->allowed;
      std::this_thread::sleep_for(step);
    }
    return true;
  }
  void release_all() { s_->allowed = s_->max_versions; }
  bool finished() const { return s_->done == s_->aggregates; }
  int allowed() const { return s_->allowed; }
  int publish_retries() const { return s_->retries; }
  std::vector<failure> failures() const {
    std::lock_guard lock(s_->mutex);
    return s_->failures;
  }
  std::size_t total() const {
    return static_cast<std::size_t>(s_->aggregates) * static_cast<std::size_t>(s_->max_versions);
  }

 private:
  struct state {
    state(int a, int v) : aggregates(a), max_versions(v) {}
    const int aggregates, max_versions;
    std::atomic<int> allowed{0}, done{0}, retries{0};
    mutable std::mutex mutex;
    std::vector<failure> failures;
  };

  static asio::awaitable<void> publish(bus& b, std::string topic, int a, std::shared_ptr<state> s) {
    for (int v = 1; v <= s->max_versions; ++v) {
      while (v > s->allowed) co_await sleep_for(std::chrono::milliseconds(5));
      const auto e = envelope::make("agg-" + std::to_string(a), "Changed", v, "{}");
      for (;;) {
        const auto start = std::chrono::steady_clock::now();
        auto [ec, placed] = co_await b.async_publish_envelope(topic, e, asio::as_tuple(asio::use_awaitable));
        if (!ec) break;
        if (ec == errc::closed) co_return;
        ++s->retries;
        {
          std::lock_guard lock(s->mutex);
          s->failures.push_back({ec, std::chrono::steady_clock::now() - start});
        }
        co_await sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  std::shared_ptr<state> s_;
};

}  // namespace corobus::test
