#pragma once
// The in-process backend, the embedded default. Each topic keeps a routing table of consumer
// groups; a publish hands the message to one member of every group (the same group name
// shares the work), with backpressure from the members' lanes. Envelopes travel as objects:
// the JSON form is made only when a subscriber wants bytes.
#include <corobus/eventbus/detail/backend.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace corobus::detail {

class bus_core;

class memory_backend final : public backend {
 public:
  explicit memory_backend(bus_core& core) : core_(core) {}

  asio::awaitable<publish_result> publish(message msg) override;
  asio::awaitable<publish_result> publish_envelope(std::string topic, std::shared_ptr<const envelope> env) override;
  asio::awaitable<void> attach(std::shared_ptr<subscriber> sub) override;
  void stop_intake() override {}
  void shutdown() override;

 private:
  struct group {
    std::string name;
    std::vector<std::shared_ptr<subscriber>> members;
    mutable std::atomic<std::size_t> next_member{0};  // round robin for keyless messages
    const std::shared_ptr<subscriber>& pick(std::string_view key) const;
  };
  // Immutable once published; attach() swaps in a new one.
  struct routing {
    std::vector<std::shared_ptr<group>> groups;
    bool needs_bytes = false;  // a subscriber takes raw messages
  };
  struct topic_state {
    std::atomic<std::int64_t> next_offset{0};
    std::mutex mutex;
    std::shared_ptr<const routing> routes = std::make_shared<routing>();
  };

  topic_state& topic(const std::string& name);
  std::shared_ptr<const routing> routes_of(topic_state& t);
  asio::awaitable<publish_result> deliver(std::shared_ptr<const routing> routes,
                                          std::shared_ptr<const message> msg,
                                          std::shared_ptr<const envelope> env);

  bus_core& core_;
  std::shared_mutex topics_mutex_;
  std::unordered_map<std::string, std::unique_ptr<topic_state>> topics_;
  bool shut_down_ = false;
};

}  // namespace corobus::detail
