#include "backends/kafka/partition_progress.hpp"

#include <algorithm>

namespace corobus::detail {

namespace {

// The first entry at or past `offset` (entries are kept in increasing offsets).
template <class Entries>
auto first_from(Entries& entries, std::int64_t offset) {
  return std::lower_bound(entries.begin(), entries.end(), offset,
                          [](const auto& e, std::int64_t o) { return e.offset < o; });
}

}  // namespace

partition_progress::entry* partition_progress::find(std::int64_t offset) {
  // Offsets are mostly consecutive (gaps come only from compaction and transaction markers):
  // the entry is then at its distance from the first one, found without a search.
  if (!entries_.empty() && offset >= entries_.front().offset) {
    const auto at = static_cast<std::size_t>(offset - entries_.front().offset);
    if (at < entries_.size() && entries_[at].offset == offset) return &entries_[at];
  }
  const auto it = first_from(entries_, offset);
  return it != entries_.end() && it->offset == offset ? &*it : nullptr;
}

void partition_progress::started(std::int64_t offset) {
  std::lock_guard lock(mutex_);
  entries_.push_back({offset, state::running});
  ++in_flight_;
  next_ = std::max(next_, offset + 1);
}

bool partition_progress::done(std::int64_t offset) {
  std::lock_guard lock(mutex_);
  auto* e = find(offset);
  if (!e || e->st == state::done) return false;
  const bool was_held = e->st == state::held;
  if (e->st == state::running) --in_flight_;
  if (was_held) --held_;
  e->st = state::done;  // a late finish after a release still counts
  return was_held;
}

bool partition_progress::released(std::int64_t offset) {
  std::lock_guard lock(mutex_);
  auto* e = find(offset);
  if (!e || (e->st != state::running && e->st != state::held)) return false;
  const bool was_held = e->st == state::held;
  if (was_held)
    --held_;
  else
    --in_flight_;
  e->st = state::released;
  return was_held;
}

void partition_progress::held(std::int64_t offset) {
  std::lock_guard lock(mutex_);
  auto* e = find(offset);
  if (!e || e->st != state::running) return;
  e->st = state::held;
  --in_flight_;
  ++held_;
}

std::int64_t partition_progress::watermark() const {
  // Everything below the position last handed out was done then, and stays done.
  const auto first_open = std::find_if(first_from(entries_, handed_out_), entries_.end(),
                                       [](const entry& e) { return e.st != state::done; });
  return first_open == entries_.end() ? next_ : first_open->offset;
}

void partition_progress::resume_at(std::int64_t position) {
  std::lock_guard lock(mutex_);
  next_ = std::max(next_, position);
}

std::optional<std::int64_t> partition_progress::position() const {
  std::lock_guard lock(mutex_);
  const auto position = watermark();
  if (position < 0) return std::nullopt;
  return position;
}

std::optional<std::int64_t> partition_progress::take_commit_position() {
  std::lock_guard lock(mutex_);
  const auto position = watermark();
  if (position < 0 || position <= handed_out_) return std::nullopt;
  handed_out_ = position;
  return position;
}

void partition_progress::stored(std::int64_t position) {
  std::lock_guard lock(mutex_);
  stored_ = std::max(stored_, position);
  while (!entries_.empty() && entries_.front().offset < stored_) entries_.pop_front();
}

void partition_progress::refused(std::int64_t position) {
  std::lock_guard lock(mutex_);
  if (position == handed_out_) handed_out_ = stored_;
}

std::size_t partition_progress::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

std::size_t partition_progress::held_count() const {
  std::lock_guard lock(mutex_);
  return held_;
}

std::size_t partition_progress::uncommitted() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace corobus::detail
