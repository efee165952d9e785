#pragma once
// A Kafka group member's assignment as pure state: the partitions it owns, which of them are
// paused and for what reason, where a partition it gave up goes on from when it comes back,
// and which rebalance a commit's answer belongs to. Events in, actions out (pause, resume,
// the assignment's start positions); no I/O and no clock reads. kafka_group_consumer carries
// the actions out with librdkafka.
//
// A partition is paused for as long as one of its reasons lasts: the in-flight window is full
// (every partition), or it holds a message whose dead letter cannot be written (that partition
// only). Two librdkafka facts shape the rules:
// - librdkafka keeps a partition's pause across unassign and assign: a partition paused when
//   revoked is resumed as it goes, or one that came back would never be fetched again.
// - The broker refuses commits while the group rebalances (REBALANCE_IN_PROGRESS), and the
//   answer to the revoke's own commit may be read only after the assignment that followed.
//   Each commit carries the generation (the rebalances seen so far) it was sent in: only a
//   refusal of this generation announces a rebalance still to come.
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace corobus::detail {

class assignment_state {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  struct partition_id {
    std::string topic;
    std::int32_t partition = -1;
    auto operator<=>(const partition_id&) const = default;
  };

  struct start_position {
    partition_id partition;
    // Where this member's own work on it ended in the revoke just before; none: the group's
    // committed offset.
    std::optional<std::int64_t> offset;
  };

  struct actions {
    std::vector<partition_id> pause;
    std::vector<partition_id> resume;
    std::vector<start_position> start;  // an assignment's partitions (assigned() only)
  };

  // A rebalance assigned `partitions` to this member.
  actions assigned(const std::vector<partition_id>& partitions);
  // A rebalance revoked them; `positions` has where the work of each ended (its commit
  // position, none when nothing was started), which it goes on from if it comes back next.
  actions revoked(const std::vector<start_position>& positions);
  // `p` began or stopped holding a message.
  actions holding(const partition_id& p, bool holds);
  // The in-flight window closed (every partition pauses) or opened again.
  actions window_full();
  actions window_open();

  // The tag each commit carries: the rebalances this member has seen.
  std::uint64_t generation() const noexcept { return generation_; }
  // A commit sent in `generation` was refused because the group rebalances, or the consumer
  // reported a rebalance in progress (now()): fetching holds until the rebalance arrives.
  void commit_refused_for_rebalance(std::uint64_t generation, time_point now);
  void rebalance_announced(time_point now);
  // The rebalance did not come after all (see fetch_window::plan::forget_rebalance).
  void forget_rebalance() noexcept { rebalance_pending_since_.reset(); }
  std::optional<time_point> rebalance_pending_since() const noexcept { return rebalance_pending_since_; }

  bool window_closed() const noexcept { return window_closed_; }
  bool owns(const partition_id& p) const { return owned_.contains(p); }
  bool holds(const partition_id& p) const;

 private:
  void rebalance_arrived();
  bool paused(bool holds) const noexcept { return window_closed_ || holds; }

  std::map<partition_id, bool> owned_;             // each owned partition: whether it holds a message
  std::map<partition_id, std::int64_t> given_up_;  // by the last revoke, until the next assignment
  bool window_closed_ = false;
  std::uint64_t generation_ = 0;
  std::optional<time_point> rebalance_pending_since_;
};

}  // namespace corobus::detail
