#include "core/subscription_registry.hpp"
#include <corobus/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace corobus::detail {

void subscription_registry::add(const std::shared_ptr<subscriber>& sub) {
  std::lock_guard lock(mutex_);
  if (closing_.load(std::memory_order_acquire)) throw_error(errc::closed, "subscribe: the bus is closed");
  sub->start();
  subscribers_.push_back(sub);
}

bool subscription_registry::remove(const std::shared_ptr<subscriber>& sub) noexcept {
  std::lock_guard lock(mutex_);
  if (closing_.load(std::memory_order_acquire)) return false;
  std::erase(subscribers_, sub);
  return true;
}

std::vector<std::shared_ptr<subscriber>> subscription_registry::close_and_take() {
  std::lock_guard lock(mutex_);
  closing_.store(true, std::memory_order_release);
  return std::exchange(subscribers_, {});
}

std::string subscription_registry::anonymous_group(const std::string& prefix, const std::string& topic) {
  std::lock_guard lock(mutex_);
  return fmt::format("{}.{}.{}", prefix, topic, anonymous_groups_[topic]++);
}

}  // namespace corobus::detail
