#pragma once
// The commit position of one assigned partition, when handlers finish out of order.
//
// Messages of one partition run on different lanes, so offset 7 may be done before offset 5.
// Committing 8 then would lose 5 and 6 on a crash. The commit position is therefore the
// watermark: the first offset not yet done (every offset below it is done). Pure state, no
// I/O: the fetch loop starts offsets, handlers on any io thread finish them, and the owner
// commits what take_commit_position() returns and reports the broker's answer. Thread-safe.
//
// It also counts the messages no stored commit covers yet. A crash or a rebalance delivers
// at most these again, so the owner keeps their sum under its limit (the in-flight window).
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace corobus::detail {

class partition_progress {
 public:
  // A fetched message is handed out; offsets arrive in increasing order.
  void started(std::int64_t offset);
  // Its handler succeeded, or it was dead-lettered: the watermark may pass it. True when
  // that ended a hold.
  bool done(std::int64_t offset);
  // It will not be done here (its partition was revoked, or nobody here takes its topic): it
  // no longer counts as in flight, and the watermark stops at it. True when that ended a hold.
  bool released(std::int64_t offset);
  // Its dead letter cannot be written for now: it is no longer running (a revoke does not
  // wait for it), and the watermark stays at it until it is done or released.
  void held(std::int64_t offset);

  // The partition was this consumer's just before (see position()): go on from `position`,
  // which take_commit_position() offers for commit in the new assignment.
  void resume_at(std::int64_t position);

  // The watermark (the next offset to read), if anything was started or resumed.
  std::optional<std::int64_t> position() const;
  // The watermark when it moved past the position last handed out.
  std::optional<std::int64_t> take_commit_position();
  // The broker stored `position`: the messages below it no longer count as uncommitted.
  void stored(std::int64_t position);
  // The broker refused `position`: the next take_commit_position() hands it out again.
  void refused(std::int64_t position);
  // Messages started and neither done, released nor held.
  std::size_t in_flight() const;
  // Messages held (see held()).
  std::size_t held_count() const;
  // Messages started at or past the last stored position: done or not, they would be
  // delivered again.
  std::size_t uncommitted() const;

 private:
  enum class state : unsigned char { running, held, released, done };
  struct entry {
    std::int64_t offset;
    state st;
  };
  // Under mutex_: the entry of `offset` if still kept; the first offset not done.
  entry* find(std::int64_t offset);
  std::int64_t watermark() const;

  mutable std::mutex mutex_;
  // Every started offset not yet covered by a stored commit, increasing: no allocation per
  // message, and the watermark is the first entry not done.
  std::deque<entry> entries_;
  std::size_t in_flight_ = 0;
  std::size_t held_ = 0;
  std::int64_t next_ = -1;        // one past the highest started
  std::int64_t handed_out_ = -1;  // the last position handed out
  std::int64_t stored_ = -1;      // the highest position the broker stored
};

}  // namespace corobus::detail
