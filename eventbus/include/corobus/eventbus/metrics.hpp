#pragma once
// A point-in-time copy of a bus's counters.
//
// Every message a subscription accepts ends in exactly one of delivered, dead_lettered,
// held, lost, abandoned and rebalanced, or is still in_flight. So for a bus that consumes
// what it publishes (one subscription per topic, its dead-letter topics not subscribed to),
// once the subscriptions have taken everything:
//
//   published == delivered + dead_lettered + held + abandoned + rebalanced + lost + unrouted
//                + in_flight
//
// (A message a rebalance moves is counted rebalanced by the consumer that gave it up and
// again by the one that handles it; messages other producers wrote are not in `published`.)
#include <cstddef>
#include <cstdint>
#include <string>

namespace corobus {

struct metrics_snapshot {
  // Publishes the backend accepted (a batch counts each envelope). Dead letters the bus
  // writes are not counted here.
  std::uint64_t published = 0;
  // Publishes that failed; the caller got the error. Not in the identity: nothing was sent.
  std::uint64_t publish_errors = 0;
  // In-process only: publishes to a topic nobody subscribed to (that backend keeps nothing).
  std::uint64_t unrouted = 0;
  // Handled successfully, or acked from a stream.
  std::uint64_t delivered = 0;
  // Handler calls (or stream deliveries) after a failure or a nack: attempts, not messages.
  std::uint64_t retried = 0;
  // Written to `<topic>.dlq` after their last attempt, or because they could not be decoded.
  std::uint64_t dead_lettered = 0;
  // Of dead_lettered: could not be decoded as envelopes.
  std::uint64_t undecodable = 0;
  // Now: messages whose dead letter the transport keeps refusing. Never committed past; their
  // partition is paused while they are; tried again every dead_letters.max_backoff. When one
  // is written it moves to dead_lettered; at close it moves to abandoned (a broker delivers it
  // again); when its partition moves, to rebalanced.
  std::uint64_t held = 0;
  // Given up: held longer than dead_letters.give_up_after (unset by default, so 0), then
  // committed past. Each one is logged as an error.
  std::uint64_t lost = 0;
  // Accepted but not handled when the bus closed (or the subscription ended). On a broker they
  // were not committed and are delivered again.
  std::uint64_t abandoned = 0;
  // Kafka: dropped unhandled because its partition moved to another consumer of the group,
  // which delivers it again.
  std::uint64_t rebalanced = 0;
  // NATS: given back to the server unhandled (-NAK; past a lost lease, left to the ack
  // wait), which delivers them again: pulled and not yet handed over when the bus closed or
  // a partition moved (those were in no other counter), released because nobody here takes
  // them any more, and the accepted ones counted abandoned or rebalanced as well. Not in the
  // identity below.
  std::uint64_t given_back = 0;
  // Accepted by a subscription and none of the above yet: queued, running, being retried, or
  // its dead letter being written (transient failures included).
  std::int64_t in_flight = 0;
  std::size_t live_tasks = 0;  // coroutines the bus runs now
  std::size_t peak_tasks = 0;
};

// The bus's link to its brokers, as its client library sees it (NATS: the connection; the
// in-process bus is always connected; Kafka's client keeps its own per-broker state, so it
// says connected).
struct connection_status {
  bool connected = true;
  std::uint64_t disconnects = 0;
  std::uint64_t reconnects = 0;
  std::string last_error;  // the client library's text for its last asynchronous error
  std::string server;      // NATS: the URL of the server it is connected to
};

}  // namespace corobus
