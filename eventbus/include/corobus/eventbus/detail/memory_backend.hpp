#pragma once
// The in-process backend, the embedded default. Each topic keeps a routing table of consumer
// groups; a publish hands the message to one member of every group (the same group name
// shares the work), with backpressure from the members' lanes. Envelopes travel as objects:
// the JSON form is made only when a subscriber wants bytes.
//
// The publish path takes no lock: the topic directory and each routing table are immutable
// snapshots behind atomic pointers. attach() publishes a new snapshot; replaced ones are kept
// until shutdown (they are few: one per subscription), so a publisher never reads freed memory.
#include <corobus/eventbus/detail/backend.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace corobus::detail {

class bus_core;

class memory_backend final : public backend {
 public:
  explicit memory_backend(bus_core& core);
  ~memory_backend() override;

  asio::awaitable<publish_result> publish(message msg) override;
  asio::awaitable<publish_result> publish_envelope(std::string topic, envelope env) override;
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
  struct routing {
    std::vector<std::shared_ptr<group>> groups;
    bool needs_bytes = false;  // a subscriber takes raw messages
  };
  struct topic_state {
    std::atomic<std::int64_t> next_offset{0};
    std::atomic<const routing*> routes;
  };
  using directory = std::unordered_map<std::string, topic_state*>;

  topic_state& topic(const std::string& name);
  asio::awaitable<publish_result> deliver(const routing& routes, std::shared_ptr<const message> msg,
                                          std::shared_ptr<const envelope> env);

  bus_core& core_;
  std::atomic<const directory*> directory_;
  std::atomic<bool> shut_down_{false};
  // Owns every snapshot ever published; taken only by writers (new topic, attach, shutdown).
  std::mutex writers_;
  std::vector<std::unique_ptr<const directory>> directories_;
  std::vector<std::unique_ptr<topic_state>> topics_;
  std::vector<std::unique_ptr<const routing>> routings_;
};

}  // namespace corobus::detail
