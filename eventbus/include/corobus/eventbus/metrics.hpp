#pragma once
// A point-in-time copy of a bus's counters.
#include <cstddef>
#include <cstdint>

namespace corobus {

struct metrics_snapshot {
  std::uint64_t published = 0;       // publishes the backend accepted
  std::uint64_t publish_errors = 0;  // publishes that failed (the caller got the error)
  std::uint64_t unrouted = 0;        // in-process: published to a topic nobody subscribed to
  std::uint64_t delivered = 0;       // messages handled successfully (or acked)
  std::uint64_t retried = 0;         // handler attempts after a failure
  std::uint64_t dead_lettered = 0;   // messages written to a dead-letter topic
  std::uint64_t undecodable = 0;     // envelopes that could not be decoded (dead-lettered)
  std::uint64_t lost = 0;            // dead-letter writes that failed: logged, never silent
  std::uint64_t abandoned = 0;       // accepted but not handled when the bus closed
  std::uint64_t rebalanced = 0;      // Kafka: dropped unhandled because its partition moved to
                                     // another consumer of the group, which delivers it again
  std::int64_t in_flight = 0;        // accepted by a subscription and not yet done
  std::size_t live_tasks = 0;        // coroutines the bus runs now
  std::size_t peak_tasks = 0;
};

}  // namespace corobus
