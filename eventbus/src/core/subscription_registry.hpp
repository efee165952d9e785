#pragma once
// The subscriptions a bus runs, so that close() ends every one of them; and the names of
// subscriptions nobody named.
#include "core/subscriber.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace corobus::detail {

class subscription_registry {
 public:
  // `closing` is the bus's flag; close_and_take() sets it, under the same lock add() holds.
  explicit subscription_registry(std::atomic<bool>& closing) : closing_(closing) {}

  // Starts `sub` and registers it; throws errc::closed once close began (then `sub` was not
  // started).
  void add(const std::shared_ptr<subscriber>& sub);
  // Forgets `sub`; false once close began (close takes care of it).
  bool remove(const std::shared_ptr<subscriber>& sub) noexcept;
  // Marks the bus closing and hands over every subscription: each is either refused by add()
  // or in what this returns.
  std::vector<std::shared_ptr<subscriber>> close_and_take();

  // The group of an unnamed subscription to `topic`: `<prefix>.<topic>.<n>`.
  std::string anonymous_group(const std::string& prefix, const std::string& topic);

 private:
  std::atomic<bool>& closing_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<subscriber>> subscribers_;
  std::map<std::string, std::size_t> anonymous_groups_;  // per topic
};

}  // namespace corobus::detail
