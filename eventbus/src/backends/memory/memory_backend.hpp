#pragma once
// The in-process backend, the embedded default. Each topic keeps a routing table of consumer
// groups; a publish hands the message to one member of every group (the same group name
// shares the work), with backpressure from the members' lanes. Envelopes travel as objects:
// the JSON form is made only when a subscriber wants bytes.
//
// The publish path takes no lock. Topics live in an insert-only open-addressing table of
// atomic slots (a full table is replaced by one twice its size), and each topic's routing
// table is an immutable snapshot behind an atomic pointer that attach()/detach() replace.
// Replaced tables and snapshots are kept until the backend is destroyed, so a publisher never
// reads freed memory; they add up to O(topics + subscription changes).
#include "core/backend.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace corobus::detail {

class memory_backend final : public backend {
 public:
  explicit memory_backend(backend_context context);
  ~memory_backend() override;

  asio::awaitable<publish_result> publish(message msg) override;
  asio::awaitable<publish_result> write_dead_letter(message msg) override;
  asio::awaitable<publish_result> publish_envelope(std::string topic, envelope env) override;
  asio::awaitable<void> attach(std::shared_ptr<subscriber> sub) override;
  void detach(const std::shared_ptr<subscriber>& sub) override;
  void stop_intake() override {}
  void shutdown() override;

 private:
  struct group {
    std::string name;
    std::vector<std::shared_ptr<subscriber>> members;
    mutable std::atomic<std::size_t> next_member{0};  // round robin for keyless messages
    const std::shared_ptr<subscriber>& pick(const incoming_message& in) const;
  };
  struct routing {
    std::vector<std::shared_ptr<group>> groups;
    bool needs_bytes = false;  // a subscriber takes raw messages
  };
  struct topic_state {
    explicit topic_state(std::string n) : name(std::move(n)) {}
    const std::string name;
    std::atomic<std::int64_t> next_offset{0};
    std::atomic<const routing*> routes;
    std::atomic<bool> told_unrouted{false};  // logged once that nobody subscribes
  };
  struct directory {
    explicit directory(std::size_t capacity) : slots(capacity) {}
    std::vector<std::atomic<topic_state*>> slots;  // a power of two, at most half full
    std::size_t used = 0;                          // written under writers_
    topic_state* find(std::string_view name) const;
    void insert(topic_state* t);
  };

  topic_state& topic(const std::string& name);
  // Publishes `next` as the topic's table. Under writers_.
  void replace_routes(topic_state& t, std::unique_ptr<routing> next);
  // `unrouted`: counted in metrics().unrouted when nobody takes it (the application's
  // publishes; a dead letter nobody reads is counted as dead-lettered only).
  asio::awaitable<publish_result> deliver(topic_state& t, const routing& routes, std::shared_ptr<const message> msg,
                                          std::shared_ptr<const envelope> env, bool unrouted = true);
  asio::awaitable<publish_result> send(message msg, bool unrouted);

  backend_context context_;
  std::atomic<const directory*> directory_;
  std::atomic<bool> shut_down_{false};
  // Owns every snapshot ever published; taken only by writers (new topic, attach, shutdown).
  std::mutex writers_;
  std::vector<std::unique_ptr<directory>> directories_;
  std::vector<std::unique_ptr<topic_state>> topics_;
  std::vector<std::unique_ptr<const routing>> routings_;
};

}  // namespace corobus::detail
