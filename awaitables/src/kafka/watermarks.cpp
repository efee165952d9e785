#include <corobus/awaitables/kafka/watermarks.hpp>

namespace corobus::kafka {

void watermarks::started(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  std::lock_guard lock(mutex_);
  auto& p = partitions_[{topic, partition}];
  p.pending.insert(offset);
  p.next = std::max(p.next, offset + 1);
}

void watermarks::done(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  std::lock_guard lock(mutex_);
  if (auto it = partitions_.find({topic, partition}); it != partitions_.end()) it->second.pending.erase(offset);
}

std::vector<topic_partition> watermarks::commit_positions() {
  std::lock_guard lock(mutex_);
  std::vector<topic_partition> moved;
  for (auto& [k, p] : partitions_) {
    const auto position = p.position();
    if (position > p.committed && position >= 0) {
      moved.push_back({k.first, k.second, position});
      p.committed = position;
    }
  }
  return moved;
}

std::size_t watermarks::in_flight(const std::vector<topic_partition>& partitions) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  if (partitions.empty()) {
    for (const auto& [k, p] : partitions_) n += p.pending.size();
    return n;
  }
  for (const auto& tp : partitions)
    if (auto it = partitions_.find({tp.topic, tp.partition}); it != partitions_.end()) n += it->second.pending.size();
  return n;
}

void watermarks::forget(const std::vector<topic_partition>& partitions) {
  std::lock_guard lock(mutex_);
  for (const auto& tp : partitions) partitions_.erase({tp.topic, tp.partition});
}

}  // namespace corobus::kafka
