#pragma once
// The subscriptions of one bus in one group and topic: every durable consumer of the group
// (one, or one per owned partition) hands each message to one of them, a key always to the
// same one (its lanes keep the order). Any thread.
#include "core/member_choice.hpp"
#include "core/subscriber.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace corobus::detail {

class group_routes {
 public:
  using members = std::vector<std::shared_ptr<subscriber>>;

  group_routes() : current_(std::make_shared<const members>()) {}

  void add(std::shared_ptr<subscriber> sub) {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<members>(*current_);
    next->push_back(std::move(sub));
    current_ = std::move(next);
    any_.store(true);
  }
  void remove(const std::shared_ptr<subscriber>& sub) {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<members>(*current_);
    std::erase(*next, sub);
    any_.store(!next->empty());
    current_ = std::move(next);
  }
  std::shared_ptr<const members> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  // Cheap (read for every pull): someone here takes messages.
  bool any() const noexcept { return any_.load(); }
  const std::shared_ptr<subscriber>& pick(const members& m, const incoming_message& in) {
    return pick_member(m, in, round_robin_);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const members> current_;
  std::atomic<bool> any_{false};
  std::atomic<std::size_t> round_robin_{0};
};

}  // namespace corobus::detail
