#pragma once
// The commit position of one assigned partition, when handlers finish out of order.
//
// Messages of one partition run on different lanes, so offset 7 may be done before offset 5.
// Committing 8 then would lose 5 and 6 on a crash. The commit position is therefore the
// watermark: the first offset not yet done (every offset below it is done). Pure state, no
// I/O: the fetch loop starts offsets, handlers on any io thread finish them, and the owner
// commits what take_commit_position() returns. Thread-safe.
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>

namespace corobus::kafka {

class partition_progress {
 public:
  // A fetched message is handed out; offsets arrive in increasing order.
  void started(std::int64_t offset);
  // Its handler succeeded, or it was dead-lettered: the watermark may pass it.
  void done(std::int64_t offset);
  // It will not be done here (its partition was revoked, or nobody here takes its topic): it
  // no longer counts as in flight, and the watermark stops at it.
  void released(std::int64_t offset);

  // The watermark when it moved since the last call (the next offset to read).
  std::optional<std::int64_t> take_commit_position();
  // Messages started and neither done nor released.
  std::size_t in_flight() const;

 private:
  mutable std::mutex mutex_;
  std::set<std::int64_t> pending_;  // started, not done (released ones included)
  std::set<std::int64_t> released_;  // a subset of pending_
  std::int64_t next_ = -1;       // one past the highest started
  std::int64_t committed_ = -1;  // the last position handed out
};

}  // namespace corobus::kafka
