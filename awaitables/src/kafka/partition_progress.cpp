#include <corobus/awaitables/kafka/partition_progress.hpp>

#include <algorithm>

namespace corobus::kafka {

void partition_progress::started(std::int64_t offset) {
  std::lock_guard lock(mutex_);
  pending_.insert(pending_.end(), offset);  // increasing: a constant-time insert at the end
  uncommitted_.push_back(offset);
  next_ = std::max(next_, offset + 1);
}

void partition_progress::done(std::int64_t offset) {
  std::lock_guard lock(mutex_);
  pending_.erase(offset);
  released_.erase(offset);
}

void partition_progress::released(std::int64_t offset) {
  std::lock_guard lock(mutex_);
  if (pending_.contains(offset)) released_.insert(offset);
}

std::optional<std::int64_t> partition_progress::take_commit_position() {
  std::lock_guard lock(mutex_);
  const auto position = pending_.empty() ? next_ : *pending_.begin();
  if (position < 0 || position <= handed_out_) return std::nullopt;
  handed_out_ = position;
  return position;
}

void partition_progress::stored(std::int64_t position) {
  std::lock_guard lock(mutex_);
  stored_ = std::max(stored_, position);
  while (!uncommitted_.empty() && uncommitted_.front() < stored_) uncommitted_.pop_front();
}

void partition_progress::refused(std::int64_t position) {
  std::lock_guard lock(mutex_);
  if (position == handed_out_) handed_out_ = stored_;
}

std::size_t partition_progress::in_flight() const {
  std::lock_guard lock(mutex_);
  return pending_.size() - released_.size();
}

std::size_t partition_progress::uncommitted() const {
  std::lock_guard lock(mutex_);
  return uncommitted_.size();
}

}  // namespace corobus::kafka
