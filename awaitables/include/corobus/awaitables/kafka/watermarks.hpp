#pragma once
// Commit positions for at-least-once consumption when handlers finish out of order.
//
// Messages of one partition run on different lanes, so offset 7 may be done before offset 5.
// Committing 8 then would lose 5 and 6 on a crash. Each partition's commit position is
// therefore its watermark: the first offset not yet done (all below it are done). Pure state,
// no I/O: the consumer's owner feeds it and commits what commit_positions() returns.
// Thread-safe: fetch loops start offsets while handlers on any io thread finish them.
#include <corobus/awaitables/kafka/consumer.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace corobus::kafka {

class watermarks {
 public:
  // A fetched message is handed out; offsets of a partition arrive in increasing order.
  void started(const std::string& topic, std::int32_t partition, std::int64_t offset);
  // Its handler succeeded, or it was dead-lettered.
  void done(const std::string& topic, std::int32_t partition, std::int64_t offset);

  // The positions that moved since the last call (offset = the next one to read).
  std::vector<topic_partition> commit_positions();
  // Messages started and not done, in `partitions` (all if empty).
  std::size_t in_flight(const std::vector<topic_partition>& partitions = {}) const;
  // Forgets partitions the consumer lost; their in-flight messages no longer count.
  void forget(const std::vector<topic_partition>& partitions);

 private:
  using key = std::pair<std::string, std::int32_t>;
  struct partition_state {
    std::set<std::int64_t> pending;  // started, not done
    std::int64_t next = -1;          // one past the highest started
    std::int64_t committed = -1;     // the last position handed out by commit_positions()
    std::int64_t position() const { return pending.empty() ? next : *pending.begin(); }
  };

  mutable std::mutex mutex_;
  std::map<key, partition_state> partitions_;
};

}  // namespace corobus::kafka
